"""Keep ultralytics off the network.

Call :func:`make_ultralytics_offline` *before* the first ``import ultralytics``
anywhere in the process: ultralytics reads its environment variables and its
settings file at import time (``ultralytics/utils/__init__.py``), and computes
``ONLINE`` once, then.

What each setting does, checked against ultralytics 8.4.x:

``YOLO_OFFLINE=1``
    ``utils.is_online()`` returns False at once instead of resolving
    one.one.one.one / dns.google, so ``utils.ONLINE`` is False.  Everything that
    checks ``ONLINE`` then stays local: analytics events (``utils/events.py``),
    Sentry error reports, ``check_latest_pypi_version`` and the AutoUpdate path
    of ``check_requirements``.
``YOLO_CONFIG_DIR=<settings_dir>``
    ``get_user_config_dir()`` then uses ``<settings_dir>/Ultralytics`` (it always
    appends that sub-folder) for ``settings.json`` and for fonts, instead of
    ``~/.config/Ultralytics``.  We write both files there.
``YOLO_AUTOINSTALL=false``
    ``check_requirements`` never runs ``pip install`` for a missing extra.
settings ``sync=False``
    Second switch for analytics events and Sentry (both require ``sync``).
settings ``clearml``, ``comet``, ``dvc``, ``mlflow``, ``raytune``, ``tensorboard``,
``wandb`` all False (8.4 has no ``hub`` setting any more; unknown keys are dropped)
    No logger callbacks that talk to a server are registered during training.
settings ``runs_dir`` / ``weights_dir`` / ``datasets_dir``
    Point into ``settings_dir`` so nothing lands in the user's home or the CWD.
Fonts ``Arial.ttf`` and ``Arial.Unicode.ttf`` in ``settings_dir/Ultralytics``
    ``check_det_dataset`` always calls ``check_font`` (``data/utils.py``), and
    plotting calls it too; if the font is not in the config dir or in
    matplotlib's font list it does ``requests.head`` + download from
    ultralytics' assets.  We copy matplotlib's bundled DejaVuSans there under
    both names, so the lookup succeeds locally.

Things the *caller* must also do (they are training/predict arguments, not
settings): ``amp=False`` (the AMP check downloads ``yolo11n.pt``; it only runs
on CUDA, but say it anyway), ``pretrained=False`` and build the model from
``yolo11n.yaml`` (no weights are downloaded), ``plots=False`` (fewer font and
matplotlib calls).  :data:`TRAIN_OFFLINE_ARGS` holds these.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

TRAIN_OFFLINE_ARGS = {"amp": False, "pretrained": False, "plots": False}

_SETTINGS_OFF = {
    "sync": False,
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
    "vscode_msg": False,
    "openvino_msg": False,
}


def _install_fonts(settings_dir: Path) -> None:
    try:
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:  # pragma: no cover - matplotlib is an ultralytics dependency
        return
    if not src.exists():  # pragma: no cover
        return
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        dst = settings_dir / name
        if not dst.exists():
            shutil.copyfile(src, dst)


def make_ultralytics_offline(settings_dir: Path) -> Path:
    """Configure env + settings so ultralytics never reaches the network.

    Returns the settings folder.  Safe to call more than once.  If ultralytics is
    already imported, the env vars no longer change ``ONLINE``; we still patch
    the live ``SETTINGS`` object and ``ONLINE`` flags so the effect holds.
    """
    settings_dir = Path(settings_dir).resolve()
    settings_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(settings_dir)
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "true")

    user_dir = settings_dir / "Ultralytics"  # what ultralytics' get_user_config_dir() returns
    user_dir.mkdir(parents=True, exist_ok=True)
    _install_fonts(user_dir)

    wanted = dict(_SETTINGS_OFF)
    wanted.update(
        {
            "runs_dir": str(settings_dir / "runs"),
            "weights_dir": str(settings_dir / "weights"),
            "datasets_dir": str(settings_dir / "datasets"),
        }
    )
    settings_file = user_dir / "settings.json"
    current: dict = {}
    if settings_file.exists():
        try:
            current = json.loads(settings_file.read_text())
        except ValueError:
            current = {}
    current.update(wanted)
    # ultralytics fills in any missing keys (and keeps ours) on first import.
    settings_file.write_text(json.dumps(current, indent=2))

    _keep_pil_unpatched()
    if "ultralytics" in sys.modules:  # imported earlier: patch the live objects
        import ultralytics.utils as uu

        uu.SETTINGS.update(wanted)
        uu.ONLINE = False
        for modname in ("ultralytics.utils.checks", "ultralytics.utils.events", "ultralytics.utils.downloads"):
            mod = sys.modules.get(modname)
            if mod is not None and hasattr(mod, "ONLINE"):
                mod.ONLINE = False
    return settings_dir


def _keep_pil_unpatched() -> None:
    """Undo ultralytics' process-wide ``PIL.Image.open`` patch (ultralytics/utils/patches.py).

    On an image PIL cannot identify, the patch calls ``check_requirements("pi-heif")``, which tries to
    pip-install a package from the network, in every part of the process: another plugin's photo check
    (grid_patrol, safety_services) then answered 500 instead of "not an image". The detector feeds
    ultralytics numpy frames, never HEIC files, so PIL's own ``open`` is all it needs.
    """
    from PIL import Image
    import ultralytics.utils.patches as patches  # importing it is what applies the patch
    Image.open = patches._image_open


def default_settings_dir() -> Path:
    """``<repo>/var/ultralytics`` (``var/`` is git-ignored)."""
    return project_root() / "var" / "ultralytics"


def project_root() -> Path:
    # plugins/forest_fire/smoke/offline.py -> repo root is parents[3]
    return Path(__file__).resolve().parents[3]
