"""Switch to incident mode, measured in a real browser (issue #8): ``incident_switch_ms``.

A twinboard server (run.py, private SQLite, plugins command_center + alerts) and Debian's Chromium:
one browser context shows the leaders' wall (``/playlist/leaders``, routine rotation); a manager in
a second context starts a drill, whose alert goes through the host's bus, opens an incident and
switches the wall. Measured: from the ``AlertRaised`` event's timestamp on the bus (``/api/changes``)
to the moment the wall's incident view shows that incident's card (``Date.now()`` in the page; same
machine clock; the wall learns of the switch by long poll on /api/wall). A manager then returns the wall to routine and the next drill runs. The last line
printed is one JSON object (median and worst of the runs).

    .venv/bin/python bench/incident_switch.py [--quick] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from liveserver import CHROME_ARGS, ROOT, serve  # noqa: E402

sys.path.insert(0, str(ROOT))
DRILLS = ("chem_leak", "forest_fire", "typhoon")


def start(tmp: Path) -> tuple[subprocess.Popen, str]:
    from core.data.store import open_store
    from core.data.users import Users
    db = f"sqlite:///{tmp / 'switch.sqlite'}"
    Users(open_store(db)).add("bench", "bench-pass-123", "manager", "bench")
    cfg = {"root": str(ROOT), "database_url": db, "var_dir": str(tmp / "var"), "public_screens": True,
           "plugin_allowlist": ["command_center", "alerts"], "entry_points": False,
           "plugins": {"command_center": {"settings": {"outbox": str(tmp / "outbox.jsonl"),
                                                       "reports_dir": str(tmp / "reports")}}}}
    return serve(cfg, tmp / "switch.yaml")


SEEN = """([title]) => {
  const f = document.getElementById('tb-playlist-frame');
  const d = f && f.contentDocument;
  const el = d && d.querySelector('[data-panel="command_center.incident"] .tb-panel-body');
  return el && el.textContent.includes(title) ? Date.now() : false;
}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, choices=range(1, 4))
    ap.add_argument("--quick", action="store_true", help="one run (a smoke run for the tests)")
    a = ap.parse_args()
    if a.quick:
        a.runs = 1
    from playwright.sync_api import sync_playwright

    from plugins.command_center.drills import load_drills  # the scenario titles
    titles = {k: d.title.zh for k, d in load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml").items()}
    tmp = Path(tempfile.mkdtemp(prefix="tb-switch-"))
    proc, url = start(tmp)
    samples: list[float] = []
    to_switch: list[float] = []
    server_side: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        args=CHROME_ARGS)
            wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
            wall.goto(url + "/playlist/leaders?lang=zh")
            wall.wait_for_function("() => { const f = document.getElementById('tb-playlist-frame');"
                                   " return f && f.contentDocument && f.contentDocument.querySelector('.tb-panel'); }",
                                   timeout=60_000)
            mgr = browser.new_context().new_page()
            mgr.goto(url + "/login")
            mgr.fill("input[name=username]", "bench")
            mgr.fill("input[name=password]", "bench-pass-123")
            mgr.click("button[type=submit]")
            mgr.goto(url + "/plugins/command_center/console")
            token = mgr.get_attribute("input[name=csrf_token]", "value")
            headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
            for k, drill in enumerate(DRILLS[:a.runs]):
                cursor = json.loads(urllib.request.urlopen(url + "/api/changes?cursor=0").read())["cursor"]
                r = mgr.request.post(url + f"/plugins/command_center/drills/{drill}/start", headers=headers,
                                     data=json.dumps({"speed": 1}))
                assert r.ok, r.text()
                switched = wall.wait_for_function(
                    "() => (document.getElementById('tb-playlist-frame') || {src: ''}).src.includes('/screen/incident')"
                    " ? Date.now() : false", polling=20, timeout=60_000).json_value()
                seen = wall.wait_for_function(SEEN, arg=[titles[drill]], polling=50, timeout=60_000).json_value()
                events = json.loads(urllib.request.urlopen(url + f"/api/changes?cursor={cursor}").read())["events"]
                raised = next(e for e in events if e["topic"] == "AlertRaised"
                              and e["rule_id"] == f"command_center.drill.{drill}")
                mode = next((e for e in events if e["topic"] == "WallModeChanged" and e["mode"] == "incident"), None)
                if mode is not None:
                    server_side.append((mode["ts"] - raised["ts"]) * 1000)
                samples.append(seen - raised["ts"] * 1000)
                to_switch.append(switched - raised["ts"] * 1000)
                print(f"{drill}: alert on the bus → wall switches {to_switch[-1]:.0f} ms → incident view shown "
                      f"{samples[-1]:.0f} ms", flush=True)
                r = mgr.request.post(url + "/plugins/command_center/wall", headers=headers,
                                     data=json.dumps({"mode": "routine"}))
                assert r.ok, r.text()
                wall.wait_for_function("() => !document.getElementById('tb-playlist-frame').src.includes('/screen/incident')",
                                       timeout=30_000)
                if k + 1 < a.runs:
                    time.sleep(3)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"runs": len(samples), "incident_switch_ms": round(statistics.median(samples)),
                      "incident_switch_worst_ms": round(max(samples)),
                      "wall_switch_ms": round(statistics.median(to_switch)),
                      "server_switch_ms": round(statistics.median(server_side)) if server_side else None, "wall_updates": "long poll",
                      "quick": a.quick}))


if __name__ == "__main__":
    main()
