"""Issue 19: the whole wall as a leader sees it, every dashboard in Chromium, Chinese and English, in one pass.

The demo is served with every built-in plugin; live data runs, the chemical park's scripted leak raises its
alarms and the chlorine-leak drill runs through the incident workflow (alert, assessment, warning,
dispatch). Each screen is then opened once per language at 1920×1080 and, from that one visit:

* **machine text and untranslated Chinese** (``test_machine_text.machine_text_problems`` and
  ``english_problems``): the page's text and its maps' ``TextLayer`` labels; a person's free text shown
  as the marked original (``PanelContext.original``) is taken out before the English check;
* **wall-sized, unclipped text and a clear title** (``wall_measure.MEASURE``): text under the wall
  minimum, clipped boxes, wrapped panel titles, Latin words or numbers broken across two lines, panels
  that never rendered, and title-bar collisions at 1080p and at 4K.

``TB_WALL_SHOTS=/some/dir`` keeps a 1080p and a 4K screenshot of each screen (``TB_WALL_PREFIX`` names
them); ``MACHINE_TEXT_DUMP=/some/dir`` keeps each screen's text; ``TB_WALL_ONLY=district,incident`` looks at
a few screens only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Server, wait_health, write_config
from core.api import WALL_FIGURE_MIN_PX, WALL_TEXT_MIN_PX
from core.data.store import open_store
from core.data.users import Users
from core.web.serve import free_port
from test_machine_text import _text_layer_texts, english_problems, machine_text_problems, without_originals
from wall_measure import MEASURE, settle, title_collisions

pytestmark = pytest.mark.browser


def dashboards() -> list[str]:
    files = sorted((ROOT / "config" / "dashboards").glob("*.yaml")) + sorted(ROOT.glob("plugins/*/dashboards/*.yaml"))
    return [yaml.safe_load(f.read_text(encoding="utf-8"))["uid"] for f in files]


def _sign_in(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(url + "/login?lang=zh")
    page.fill("input[name=username]", "manager1")
    page.fill("input[name=password]", "manager-pass-1")
    page.click("#tb-login-submit")
    return ctx, page


def _run_drill(browser, url: str) -> None:
    """The chlorine-leak drill, three times faster, until its dispatch; then the chemical park's live alarms."""
    ctx, mgr = _sign_in(browser, url)
    try:
        mgr.goto(url + "/plugins/command_center/console?lang=zh")
        mgr.evaluate("() => { document.querySelector('#cc-drills form input[name=speed]').value = '3'; }")
        mgr.click("#cc-drills form:first-of-type button")
        st: dict = {}
        deadline = time.time() + 90
        while time.time() < deadline:
            st = mgr.request.get(url + "/plugins/command_center/drills/chem_leak").json()
            if "dispatch ok" in st.get("log", []) or st.get("error"):
                break
            time.sleep(1)
        assert "dispatch ok" in st.get("log", []), st
        # live alarms too: the chemical park's scripted leak starts 30 s after the sources
        deadline = time.time() + 90
        while time.time() < deadline and not any(a["rule_id"].startswith("chemical_park.")
                                                  for a in mgr.request.get(url + "/api/alerts").json()):
            time.sleep(1)
    finally:
        ctx.close()


def _visit(browser, url: str, uid: str, lang: str, shots: str | None, prefix: str) -> dict:
    """One screen in one language: its text, marked originals, map labels and wall-text measures."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    labels: list[str] = []

    def on_response(resp) -> None:
        if "_dash-update-component" in resp.url and resp.ok:
            try:
                _text_layer_texts(json.loads(resp.body()), labels)
            except Exception:  # noqa: BLE001 - a body the page dropped while it navigated
                pass

    page = ctx.new_page()
    page.on("response", on_response)
    try:
        page.goto(f"{url}/screen/{uid}?lang={lang}", wait_until="domcontentloaded")
        settle(page)
        text = page.evaluate("() => document.body.innerText")
        originals = page.evaluate("() => Array.from(document.querySelectorAll('.tb-original[lang=\"zh-CN\"]'))"
                                  ".map(e => e.textContent)")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"{prefix}{uid}_{lang}.png"))
        m = page.evaluate(MEASURE, [WALL_TEXT_MIN_PX, WALL_FIGURE_MIN_PX])
        wall = [f"small {s}" for s in m["small"]] + [f"clipped {c}" for c in m["clipped"]]
        wall += [f"wrapped {w}" for w in m["wrapped"]]
        wall += [f"broken word {b}" for b in m["broken"]]
        wall += [f"never rendered: {p}" for p in page.evaluate(
            "() => Array.from(document.querySelectorAll('#tb-canvas .tb-loading'))"
            ".map(e => e.closest('[data-panel]').dataset.panel)")]
        wall += [f"1080p {c}" for c in title_collisions(m)]
        page.set_viewport_size({"width": 3840, "height": 2160})
        page.wait_for_timeout(600)          # the canvas refits on the next clock tick
        if shots:
            page.screenshot(path=str(Path(shots) / f"{prefix}{uid}_{lang}_4k.png"))
        wall += [f"4K {c}" for c in title_collisions(page.evaluate(MEASURE, [WALL_TEXT_MIN_PX, WALL_FIGURE_MIN_PX]))]
    finally:
        ctx.close()
    return {"text": text + "\n" + "\n".join(sorted(set(labels))), "originals": originals, "wall": wall}


@pytest.fixture(scope="module")
def wall_visits(tmp_path_factory: pytest.TempPathFactory, chromium) -> dict[str, dict]:
    """Every dashboard in zh and en, visited once while the drill and the live alarms are on."""
    tmp = tmp_path_factory.mktemp("wall_audit")
    Users(open_store(f"sqlite:///{tmp / 'twin.sqlite'}")).add("manager1", "manager-pass-1", "manager", "t")
    config = write_config(tmp, plugin_allowlist=None,
                          plugins={"command_center": {"settings": {"outbox": str(tmp / "outbox.jsonl"),
                                                                   "reports_dir": str(tmp / "reports")}}})
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TWINBOARD_FALSE_SOURCES": str(tmp / "false_sources.json")})
    url = f"http://127.0.0.1:{port}"
    try:  # every plugin starts: slower than the usual two
        wait_health(url, proc, timeout=240)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    server = Server(url, proc, config)
    shots, prefix = os.environ.get("TB_WALL_SHOTS"), os.environ.get("TB_WALL_PREFIX", "")
    only = [u for u in os.environ.get("TB_WALL_ONLY", "").split(",") if u]
    visits: dict[str, dict] = {}
    try:
        uids = dashboards()
        assert {"district", "incident", "chemical_park", "flood_defence", "enterprise_park", "forest_fire",
                "interconnection"} <= set(uids)
        _run_drill(chromium, url)
        for uid in [u for u in uids if not only or u in only]:
            for lang in ("zh", "en"):
                visits[f"{uid}?lang={lang}"] = v = _visit(chromium, url, uid, lang, shots, prefix)
                if os.environ.get("MACHINE_TEXT_DUMP"):  # for a person fixing the screens: what each one said
                    out = Path(os.environ["MACHINE_TEXT_DUMP"]) / f"{uid}.{lang}.txt"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(v["text"], encoding="utf-8")
    finally:
        server.stop()
    return visits


def test_no_machine_text_and_no_untranslated_chinese_on_any_screen(wall_visits: dict[str, dict]) -> None:
    problems: dict[str, list[str]] = {}
    for screen, v in wall_visits.items():
        found = machine_text_problems(v["text"])
        if screen.endswith("lang=en"):
            found += english_problems(without_originals(v["text"], v["originals"]))
        if found:
            problems[screen] = sorted(set(found))
    report = "\n".join(f"[{screen}] {p}" for screen, ps in problems.items() for p in ps)
    total = sum(len(v) for v in problems.values())
    assert not problems, f"{total} machine-text / untranslated strings on {len(problems)} screens:\n{report}"


def test_every_screen_has_wall_sized_unclipped_text_and_a_clear_title(wall_visits: dict[str, dict]) -> None:
    failures = [f"{screen}: {i}" for screen, v in wall_visits.items() for i in v["wall"]]
    assert not failures, f"{len(failures)} wall-text offenders:\n" + "\n".join(failures[:80])
