"""Routes under /plugins/forest_fire/: latest frame per camera, alert snapshots, human review, status."""

from __future__ import annotations

from typing import Any

import flask

from core.api import RouteSpec

from .panels import write_review
from .source import SNAP_DIR, STATE


def frame(cam_id: str) -> Any:
    """The camera's latest analysed frame with its boxes (JPEG)."""
    st = STATE.get(cam_id)
    if st is None or not st.jpeg:
        flask.abort(404)
    resp = flask.Response(st.jpeg, mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def snapshot(name: str) -> Any:
    """An alert's evidence picture, kept under var/forest_fire/snapshots/."""
    return flask.send_from_directory(SNAP_DIR, name, mimetype="image/jpeg", max_age=3600)


def review(alert_id: int) -> Any:
    """A person confirms (fire) or dismisses (false alarm) an AI smoke alert; audited."""
    host = flask.current_app.config["TWINBOARD_HOST"]
    verdict = (flask.request.form.get("verdict") or flask.request.args.get("verdict") or "").lower()
    if verdict not in ("confirm", "dismiss"):
        return flask.jsonify({"error": "verdict must be 'confirm' or 'dismiss'"}), 400
    identity = getattr(flask.g, "identity", None) or {}
    actor = identity.get("user") or (f"kiosk:{identity['kiosk']}" if identity.get("kiosk") else "screen")
    alert = next((a for a in host.store.alerts(states=("open", "acknowledged", "closed"), limit=100000)
                  if a.id == alert_id), None)
    if alert is None or alert.plugin != "forest_fire":
        return flask.jsonify({"error": f"no smoke alert {alert_id}"}), 404
    state = "acknowledged" if verdict == "confirm" else "closed"
    host.store.set_alert_state(alert_id, state, actor)
    write_review(alert_id, "confirmed" if verdict == "confirm" else "dismissed", actor)
    host.store.audit(actor, f"forest_fire.review.{verdict}", f"alert:{alert_id}", None, verdict)
    if flask.request.accept_mimetypes.best == "application/json" or flask.request.is_json:
        return flask.jsonify({"alert": alert_id, "verdict": verdict, "state": state})
    return flask.redirect(flask.request.referrer or "/screen/forest_fire", code=303)


def status() -> Any:
    """Every camera's state as JSON (for monitoring and tests)."""
    out = {}
    for cam_id, st in sorted(STATE.cameras.items()):
        s = st.status
        out[cam_id] = {"state": s.state if s else "offline", "last_frame_time": st.frame_time,
                       "frames": s.frames if s else 0, "corrupt": s.corrupt if s else 0,
                       "reconnects": s.reconnects if s else 0, "last_error": s.last_error if s else None,
                       "score": st.score, "alert_on": st.alert_on}
    return flask.jsonify({"cameras": out, "detector_error": STATE.detector_error})


def routes(settings: Any) -> list[RouteSpec]:
    role = getattr(settings, "review_role", "viewer")
    return [RouteSpec("frame/<path:cam_id>.jpg", frame, endpoint="frame"),
            RouteSpec("snapshot/<name>", snapshot, endpoint="snapshot"),
            RouteSpec("review/<int:alert_id>", review, methods=("POST",), endpoint="review", role=role),
            RouteSpec("status.json", status, endpoint="status")]
