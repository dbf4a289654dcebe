"""ultralytics patches PIL.Image.open for the whole process; on bytes PIL cannot identify, its patch tries to
pip-install pi-heif from the network. After forest_fire's offline set-up, PIL's own open is back, so other
plugins' photo checks answer "not an image" instead of a 500 (and nothing reaches out)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ultralytics_leaves_pil_open_alone(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import io, sys
        sys.path.insert(0, {str(ROOT)!r})
        from plugins.forest_fire.smoke.offline import make_ultralytics_offline
        make_ultralytics_offline({str(tmp_path / 'ucfg')!r})
        from ultralytics import YOLO  # noqa: F401
        import ultralytics.utils.checks as checks
        def refuse(*a, **k):
            raise SystemExit("check_requirements was called: " + repr(a))
        checks.check_requirements = refuse
        from PIL import Image, UnidentifiedImageError
        try:
            Image.open(io.BytesIO(b"not an image at all"))
        except UnidentifiedImageError:
            print("plain PIL error")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0 and "plain PIL error" in proc.stdout, proc.stdout + proc.stderr[-2000:]
