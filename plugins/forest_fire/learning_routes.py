"""The site's learning loop in the browser: label a reviewed alarm (boxes drawn on its frame), and the
manager's model page (candidate next to the current model, promote, roll back, retrain).

Pages: ``label/<alert id>`` (the review page with the box-drawing canvas, role ``review_role``),
``alert-frame/<name>`` (an alert's raw frame), ``admin/models`` (manager), ``admin/models/file/<v>/<name>``
(a version's preview frames), POST ``admin/models/v<N>/promote``, ``admin/models/rollback``,
``admin/models/retrain``. Promotion and roll-back set the plugin's ``model_path`` setting through the host
(stored, audited, relayed to every process, whose camera sources restart with the new weights).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import flask

from core.api import current_identity

from .smoke.examples import alert_frame_path, alert_frames_dir, counts, data_root, list_examples
from .smoke.registry import STATES, Registry, RegistryError, models_dir
from .smoke.retrain import MIN_NEGATIVES, MIN_POSITIVES, MIN_UNITS, jobs, new_job, run_job

HERE = Path(__file__).resolve().parent
MODELS_PAGE = "/plugins/forest_fire/admin/models"
_threads: dict[str, threading.Thread] = {}


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records["forest_fire"].settings


def _root() -> Path:
    return data_root(_settings())


def _lang() -> str:
    return "en" if flask.request.args.get("lang") == "en" else "zh"


def _actor() -> str:
    ident = current_identity() or {}
    return ident.get("user") or (f"kiosk:{ident['kiosk']}" if ident.get("kiosk") else "screen")


def _render(template: str, **kw: Any) -> str:
    host, lang = _host(), _lang()
    return flask.render_template_string((HERE / template).read_text(encoding="utf-8"),
                                        t=lambda m: host.translator.gettext(m, lang), lang=lang,
                                        identity=current_identity(), **kw)


def _alert(alert_id: int) -> Any:
    host = _host()
    return next((a for a in host.store.alerts(states=("open", "acknowledged", "closed"), limit=100000)
                 if a.id == alert_id and a.plugin == "forest_fire"), None)


def configured_model() -> tuple[Path, str]:
    from .detector import resolve_model_path
    setting = getattr(_settings(), "model_path", "") or ""
    return resolve_model_path(setting), setting


def registry() -> Registry:
    reg = Registry(_host().store, _root())
    if not reg.versions():
        model, setting = configured_model()
        if model.is_file():
            reg.ensure_base(model, setting, "system")
    return reg


# -- review: label page -------------------------------------------------------------------------------
def label_page(alert_id: int) -> Any:
    """The review page of one alert: its frame, the AI's box, boxes the operator draws; confirm or false."""
    from .panels import read_reviews, review_state

    alert = _alert(alert_id)
    if alert is None:
        flask.abort(404)
    d = alert.details or {}
    frame = alert_frame_path(_root(), alert)
    ex = _host().store.entity(f"forest_fire.ex.alert{alert_id}")
    return _render("review.html", alert=alert, details=d, verdict=review_state(alert, read_reviews()),
                   frame_url=f"/plugins/forest_fire/alert-frame/{frame.name}" if frame else d.get("snapshot"),
                   raw=frame is not None, example=(ex.properties if ex else None),
                   when=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d.get("frame_time") or alert.opened_at)))


def alert_frame(name: str) -> Any:
    """An alert's frame as the camera saw it (no boxes drawn in)."""
    return flask.send_from_directory(alert_frames_dir(_root()), name, mimetype="image/jpeg", max_age=3600)


# -- manager: models ------------------------------------------------------------------------------------
def models_page() -> Any:
    reg = registry()
    versions = reg.versions()
    cur = reg.current()
    want = flask.request.args.get("v")
    shown = None
    try:
        shown = reg.get(want) if want else None
    except RegistryError:
        flask.abort(404)
    if shown is None:
        shown = next((m for m in reversed(versions) if m.state == "candidate"), None) or \
            next((m for m in reversed(versions) if m.props.get("metrics")), None)
    ex = list_examples(_host().store, _root())
    return _render("models.html", versions=versions, current=cur, shown=shown, states=STATES,
                   jobs=jobs(_host().store), counts=counts(ex), n_pos=sum(x.label == "smoke" for x in ex),
                   n_neg=sum(x.label == "no_smoke" for x in ex), n_units=len({x.unit for x in ex}),
                   need=(MIN_POSITIVES, MIN_NEGATIVES, MIN_UNITS),
                   in_use=_detector_in_use(),
                   fmt=lambda ts: time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "–")


def _detector_in_use() -> str:
    from .source import STATE
    det = STATE.detector
    return str(det.model_path) if det is not None else ""


def model_file(version: int, name: str) -> Any:
    return flask.send_from_directory(models_dir(_root()) / f"v{version}", name, mimetype="image/jpeg", max_age=600)


def _back(msg: str, ok: bool) -> Any:
    if flask.request.is_json or flask.request.accept_mimetypes.best == "application/json":
        return flask.jsonify({"ok": ok, "message": msg}), (200 if ok else 400)
    flask.flash(msg, "ok" if ok else "error")
    return flask.redirect(MODELS_PAGE + ("?lang=en" if _lang() == "en" else ""), code=303)


def _apply(mv: Any, actor: str) -> str | None:
    """Point the plugin's model_path setting at ``mv``: stored, audited, relayed; sources restart."""
    errors = _host().update_settings("forest_fire", {"model_path": mv.setting_value()}, actor)
    return "; ".join(f"{k}: {v}" for k, v in errors.items()) if errors else None


def promote(version: int) -> Any:
    actor = _actor()
    accept = (flask.request.form.get("accept_worse") or (flask.request.get_json(silent=True) or {})
              .get("accept_worse") or "") in ("1", "on", "true", True)
    try:
        mv = registry().promote(version, actor, accept_worse=accept)
    except RegistryError as exc:
        return _back(str(exc), False)
    err = _apply(mv, actor)
    if err:
        return _back(f"v{mv.version} promoted in the registry but the setting was refused: {err}", False)
    return _back(f"v{mv.version} is now the current model", True)


def rollback() -> Any:
    actor = _actor()
    try:
        mv = registry().rollback(actor)
    except RegistryError as exc:
        return _back(str(exc), False)
    err = _apply(mv, actor)
    if err:
        return _back(f"rolled back to v{mv.version} in the registry but the setting was refused: {err}", False)
    return _back(f"rolled back: v{mv.version} is the current model again", True)


def retrain_start() -> Any:
    """Start a retrain in the background: a Celery task with a broker, else a thread of this process."""
    import json

    from .scale import broker_url, celery_app

    form = flask.request.form
    try:
        epochs = int(form.get("epochs") or 10)
        if not 1 <= epochs <= 300:
            raise ValueError
    except ValueError:
        return _back("epochs: a whole number from 1 to 300", False)
    actor = _actor()
    opts = {"epochs": epochs, "actor": actor}
    opts["command"] = f"task forest_fire.retrain {json.dumps({'epochs': epochs}, sort_keys=True)} (by {actor} in /admin)"
    store = _host().store
    if any(j.get("state") in ("queued", "running") for j in jobs(store, 3)):
        return _back("a retrain is already queued or running", False)
    job = new_job(store, opts["command"], actor)
    if broker_url() and celery_app is not None:
        celery_app.send_task("forest_fire.retrain", args=[job, opts, None], queue="forest_fire_train")
        return _back(f"retrain queued ({job})", True)
    model, setting = configured_model()
    root = _root()
    t = threading.Thread(target=run_job, args=(store, root, model, job), kwargs={**opts, "configured_setting": setting},
                         name=f"forest_fire-retrain-{job}", daemon=True)
    _threads[job] = t
    t.start()
    return _back(f"retrain started ({job})", True)
