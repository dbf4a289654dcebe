"""What the browser benchmarks share: Chromium's flags and a twinboard server (run.py) on a free port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from core.web.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
#: Debian's Chromium, headless and quiet: nothing leaves the machine.
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def serve(config: dict[str, Any], path: Path) -> tuple[subprocess.Popen, str]:
    """Write ``config`` to ``path``, start run.py with it and wait for /api/health; (process, base URL)."""
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(path), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")
