"""Routes under /plugins/forest_fire/: latest frame per camera, alert snapshots, human review, status."""

from __future__ import annotations

from typing import Any

import flask

from core.api import RouteSpec

from . import learning_routes as learning
from .panels import write_review
from .smoke.examples import ExampleError, check_boxes, data_root, example_from_review
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
    """A person confirms (fire) or dismisses (false alarm) an AI smoke alert; audited. The reviewed alarm
    becomes a labelled example of its camera (``boxes``: what the operator drew, else the AI's box)."""
    host = flask.current_app.config["TWINBOARD_HOST"]
    body = flask.request.get_json(silent=True) if flask.request.is_json else None
    verdict = str(flask.request.form.get("verdict") or flask.request.args.get("verdict")
                  or (body.get("verdict") if isinstance(body, dict) else None) or "").lower()
    if verdict not in ("confirm", "dismiss"):
        return flask.jsonify({"error": "verdict must be 'confirm' or 'dismiss'"}), 400
    identity = getattr(flask.g, "identity", None) or {}
    actor = identity.get("user") or (f"kiosk:{identity['kiosk']}" if identity.get("kiosk") else "screen")
    alert = next((a for a in host.store.alerts(states=("open", "acknowledged", "closed"), limit=100000)
                  if a.id == alert_id), None)
    if alert is None or alert.plugin != "forest_fire":
        return flask.jsonify({"error": f"no smoke alert {alert_id}"}), 404
    # Boxes the operator drew on the review page (JSON list of [x1, y1, x2, y2] fractions): checked before
    # anything is stored, so bad input changes nothing.
    try:
        boxes = _boxes_field(verdict)
    except ExampleError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    state = "acknowledged" if verdict == "confirm" else "closed"
    host.store.set_alert_state(alert_id, state, actor)
    write_review(alert_id, "confirmed" if verdict == "confirm" else "dismissed", actor)
    host.store.audit(actor, f"forest_fire.review.{verdict}", f"alert:{alert_id}", None,
                     {"verdict": verdict, "boxes": boxes} if boxes else verdict)
    example, example_error = _learn(host, alert, verdict, boxes, actor)
    if flask.request.accept_mimetypes.best == "application/json" or flask.request.is_json:
        return flask.jsonify({"alert": alert_id, "verdict": verdict, "state": state, "example": example,
                              "example_error": example_error})
    return flask.redirect(flask.request.referrer or "/screen/forest_fire", code=303)


def _boxes_field(verdict: str) -> list[list[float]]:
    """The drawn boxes of a review (form field or JSON key ``boxes``), validated for the verdict."""
    import json
    raw: Any = (flask.request.get_json(silent=True) or {}).get("boxes") if flask.request.is_json \
        else flask.request.form.get("boxes")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            raise ExampleError("boxes", "not JSON: expected [[x1, y1, x2, y2], ...]") from None
    if verdict == "dismiss":
        return check_boxes(raw, "no_smoke")
    return check_boxes(raw, "smoke") if raw else []


def _learn(host: Any, alert: Any, verdict: str, boxes: list[list[float]], actor: str) -> tuple[str | None, str | None]:
    """A reviewed alarm becomes a labelled example of its camera; a false alarm also teaches the
    camera's false-source record (smoke/temporal.py)."""
    import logging
    settings = host.plugins.records["forest_fire"].settings
    example = error = None
    try:
        example = example_from_review(host.store, data_root(settings), alert, verdict, boxes, actor).id
    except ExampleError as exc:
        error = str(exc)
    if verdict == "dismiss":
        try:
            from .smoke.temporal import learn_from_review
            learn_from_review(alert.details or {}, "dismissed", alert_id=alert.id)
        except (ImportError, ValueError) as exc:
            logging.getLogger(__name__).warning("forest_fire: false source of alert %s not learned: %s", alert.id, exc)
    return example, error


def status() -> Any:
    """Every camera's state as JSON (for monitoring and tests)."""
    out = {}
    for cam_id, st in sorted(STATE.cameras.items()):
        s = st.status
        out[cam_id] = {"state": s.state if s else "offline", "last_frame_time": st.frame_time,
                       "frames": s.frames if s else 0, "corrupt": s.corrupt if s else 0,
                       "reconnects": s.reconnects if s else 0, "last_error": s.last_error if s else None,
                       "score": st.score, "alert_on": st.alert_on}
    det = STATE.detector
    return flask.jsonify({"cameras": out, "detector_error": STATE.detector_error,
                          "model": str(det.model_path) if det is not None else None})


def routes(settings: Any) -> list[RouteSpec]:
    role = getattr(settings, "review_role", "viewer")
    return [RouteSpec("frame/<path:cam_id>.jpg", frame, endpoint="frame"),
            RouteSpec("snapshot/<name>", snapshot, endpoint="snapshot"),
            RouteSpec("review/<int:alert_id>", review, methods=("POST",), endpoint="review", role=role),
            RouteSpec("status.json", status, endpoint="status"),
            # the site's learning loop (learning_routes.py): label a reviewed alarm, compare/promote models
            RouteSpec("label/<int:alert_id>", learning.label_page, endpoint="label", role=role),
            RouteSpec("alert-frame/<name>", learning.alert_frame, endpoint="alert_frame", role=role),
            RouteSpec("admin/models", learning.models_page, endpoint="models", role="manager"),
            RouteSpec("admin/models/file/<int:version>/<name>", learning.model_file, endpoint="model_file",
                      role="manager"),
            RouteSpec("admin/models/v<int:version>/promote", learning.promote, methods=("POST",),
                      endpoint="model_promote", role="manager"),
            RouteSpec("admin/models/rollback", learning.rollback, methods=("POST",), endpoint="model_rollback",
                      role="manager"),
            RouteSpec("admin/models/retrain", learning.retrain_start, methods=("POST",), endpoint="model_retrain",
                      role="manager")]
