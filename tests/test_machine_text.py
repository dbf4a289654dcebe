"""Issue 19 points 1 and 4: every string on a wall screen is written for people, in the screen's language.

The demo is served with every built-in plugin; live data runs, the chemical park's scripted leak raises
its alarms and the chlorine-leak drill runs through the incident workflow. Every dashboard is then opened
in Chromium at 1920×1080, in Chinese and in English, and its text is scanned:

* the page's ``document.body.innerText``;
* the texts of the deck.gl ``TextLayer`` labels its maps draw (read from the screen's callback answers).

Machine text fails the test (``machine_text_problems``): ids with dots (``forest_fire.cam_x``), actor ids
(``system:``, ``team:…``, ``drill:…:``), snake_case keys (``gas_lel_pct``), URL paths (``/plugins/``,
``/api/``) and ``key=value``.

English screens (``english_problems``) may show Chinese only as an original name in brackets right after
its English or pinyin form, e.g. ``Haimen Subdistrict (海门街道)``: any other run of four or more CJK
characters fails. Shorter runs are let through (a unit, one character in a name).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import sys

from conftest import ROOT, Server, wait_health, write_config
from core.web.serve import free_port
from core.data.store import open_store
from core.data.users import Users

pytestmark = pytest.mark.browser

#: an id with dots: "forest_fire.cam_fengshan", "cp.tank.t101" (each part two characters or more: "e.g." passes)
DOTTED_ID = re.compile(r"(?<![\w./-])[a-z][a-z0-9_]+(?:\.[a-z][a-z0-9_]+)+(?:@\w+)?")
#: an actor or key with a colon right before an id or at the end: "system:", "team:cc.team.x:", "drill:chem_leak:"
COLON_ID = re.compile(r"(?<![\w/])[a-z][a-z_]*:(?:[a-z0-9_.]+:?)?(?=\s|$|[^\w/])")
#: snake_case keys: "gas_lel_pct", "threshold_rule"
SNAKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.-])")
#: URL paths of the host
PATH = re.compile(r"/(?:plugins|api|screen|assets|vendor)/\S*")
#: key=value
KEY_VALUE = re.compile(r"(?<![\w])[A-Za-z_][A-Za-z0-9_]*=\S")
MACHINE = (("dotted id", DOTTED_ID), ("actor/key id", COLON_ID), ("snake_case key", SNAKE), ("URL path", PATH),
           ("key=value", KEY_VALUE))
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN = re.compile(f"[{CJK}]{{4,}}")
#: Chinese allowed on an English screen: the original name in brackets right after a Latin word
ORIGINAL_NAME = re.compile(rf"(?<=[A-Za-z0-9.)])\s?[(（][^()（）]*[{CJK}][^()（）]*[)）]")


def machine_text_problems(text: str) -> list[str]:
    """The machine-text fragments in ``text``, each as "<kind>: <fragment> … <its line>"."""
    out = []
    for line in text.splitlines():
        for kind, rx in MACHINE:
            for m in rx.finditer(line):
                frag = m.group(0)
                if kind == "actor/key id" and frag.endswith(":") and not re.search(r"[a-z0-9_.]+:[a-z0-9_.]", frag):
                    before = line[:m.start()].strip()
                    leads = not before or re.fullmatch(r"[\d:]+", before)  # at the start of a line, or after a time
                    if not (frag[:-1] in ACTOR_PREFIXES and leads) and not line.rstrip().endswith(frag):
                        continue  # "note: ..." or "rescue team: ..." in a sentence; a leading actor id is not
                out.append(f"{kind}: {frag!r} in {line.strip()[:160]!r}")
    return out


#: the host's and plugins' actor prefixes ("system:", "team:…", "drill:…", "user:…")
ACTOR_PREFIXES = {"system", "team", "drill", "user", "rule", "plugin", "source", "console", "api", "cli"}


def english_problems(text: str) -> list[str]:
    """Runs of ≥ 4 CJK characters on an English screen that are not an original name in brackets."""
    out = []
    for line in text.splitlines():
        rest = ORIGINAL_NAME.sub("", line)
        for m in CJK_RUN.finditer(rest):
            out.append(f"Chinese: {m.group(0)!r} in {line.strip()[:160]!r}")
    return out


def test_the_rules_catch_machine_text_and_let_people_text_through() -> None:
    bad = ["gas_lel_pct +10.3/min (limit 10/min)", "forest_fire.cam_fengshan@west 烟火", "查看 /plugins/forest_fire/snapshot/1.jpg",
           "threshold=guaranteed", "system: 接报", "drill:chem_leak: 演练", "team:cc.team.hazmat: 到场", "14:03 system:"]
    for s in bad:
        assert machine_text_problems(s), s
    good = ["可燃气体浓度 10.3 %LEL/分钟，超过限值 10", "Combustible gas +10.3 %LEL/min, over the limit 10",
            "14:03:22 系统 接报", "风速 4.2 m/s", "e.g. 3 km/h", "Note: two teams on scene", "PM2.5 12 μg/m³",
            "查看截图", "Haimen Subdistrict (海门街道)", "1:2000", "District hazmat rescue team: arrived"]
    for s in good:
        assert not machine_text_problems(s), (s, machine_text_problems(s))
    assert english_problems("Alert: 可燃气体浓度超限") and english_problems("海门街道")
    assert not english_problems("Haimen Subdistrict (海门街道)") and not english_problems("Chlorine 液氯 leak")
    assert not english_problems("Waisha Yantou Chemical Park（外沙岩头化工园区）, 2 km downwind")


def dashboards() -> list[str]:
    files = sorted((ROOT / "config" / "dashboards").glob("*.yaml")) + sorted(ROOT.glob("plugins/*/dashboards/*.yaml"))
    return [yaml.safe_load(f.read_text(encoding="utf-8"))["uid"] for f in files]


def _text_layer_texts(node: object, out: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("@@type") == "TextLayer" and isinstance(node.get("data"), list):
            out.extend(str(r.get("text", "")) for r in node["data"] if isinstance(r, dict))
        for v in node.values():
            _text_layer_texts(v, out)
    elif isinstance(node, list):
        for v in node:
            _text_layer_texts(v, out)


def screen_texts(browser, url: str, settle_s: float) -> str:
    """innerText of the screen at ``url`` and its maps' TextLayer labels, once its panels have settled."""
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
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector(".tb-panel", timeout=60000)
        page.wait_for_function("() => !document.querySelector('.tb-panel-body:empty') "
                               "|| document.querySelectorAll('.tb-fresh').length > 0", timeout=60000)
        page.wait_for_timeout(settle_s * 1000)
        text = page.evaluate("() => document.body.innerText")
        # a person's free text shown as written, marked as the original (PanelContext.original): not the
        # screen's own words, so it is taken out before the English check (machine text is still looked for)
        originals = page.evaluate("() => Array.from(document.querySelectorAll('.tb-original[lang=\"zh-CN\"]'))"
                                  ".map(e => e.textContent)")
    finally:
        ctx.close()
    return text + "\n" + "\n".join(sorted(set(labels))), originals


def without_originals(text: str, originals: list[str]) -> str:
    """``text`` with each marked original (a person's free text in Chinese) replaced by a placeholder."""
    for o in sorted(set(originals), key=len, reverse=True):
        if o.strip():
            text = text.replace(o, "‹original›")
    return text


@pytest.mark.skipif(os.environ.get("TB_WALL_AUDIT") != "1", reason="issue 19 is open: the whole-wall audit still finds offenders and takes 5-16 min; run it with TB_WALL_AUDIT=1")
def test_no_machine_text_and_no_untranslated_chinese_on_any_screen(tmp_path: Path, chromium) -> None:
    Users(open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")).add("manager1", "manager-pass-1", "manager", "t")
    config = write_config(tmp_path, plugin_allowlist=None,
                          plugins={"command_center": {"settings": {"outbox": str(tmp_path / "outbox.jsonl"),
                                                                   "reports_dir": str(tmp_path / "reports")}}})
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:  # every plugin starts: slower than the usual two
        wait_health(f"http://127.0.0.1:{port}", proc, timeout=240)
    except BaseException:
        proc.kill()
        raise
    server = Server(f"http://127.0.0.1:{port}", proc, config)
    mgr_ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    problems: dict[str, list[str]] = {}
    try:
        mgr = mgr_ctx.new_page()
        mgr.goto(server.url + "/login?lang=zh")
        mgr.fill("input[name=username]", "manager1")
        mgr.fill("input[name=password]", "manager-pass-1")
        mgr.click("#tb-login-submit")
        mgr.goto(server.url + "/plugins/command_center/console?lang=zh")
        # the chlorine-leak drill, three times faster: alert, assessment, warning, dispatch within 20 s
        mgr.evaluate("() => { document.querySelector('#cc-drills form input[name=speed]').value = '3'; }")
        mgr.click("#cc-drills form:first-of-type button")
        deadline = time.time() + 90
        while time.time() < deadline:
            st = mgr.request.get(server.url + "/plugins/command_center/drills/chem_leak").json()
            if "dispatch ok" in st.get("log", []) or st.get("error"):
                break
            time.sleep(1)
        assert "dispatch ok" in st["log"], st
        # live alarms too: the chemical park's scripted leak starts 30 s after the sources
        deadline = time.time() + 90
        while time.time() < deadline and not any(a["rule_id"].startswith("chemical_park.")
                                                  for a in mgr.request.get(server.url + "/api/alerts").json()):
            time.sleep(1)
        uids = dashboards()
        assert {"district", "incident", "chemical_park", "forest_fire", "interconnection"} <= set(uids)
        for lang in ("zh", "en"):
            for uid in uids:
                text, originals = screen_texts(chromium, f"{server.url}/screen/{uid}?lang={lang}", settle_s=3)
                if os.environ.get("MACHINE_TEXT_DUMP"):  # for a person fixing the screens: what each one said
                    out = Path(os.environ["MACHINE_TEXT_DUMP"]) / f"{uid}.{lang}.txt"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(text, encoding="utf-8")
                found = machine_text_problems(text) + (english_problems(without_originals(text, originals))
                                                       if lang == "en" else [])
                if found:
                    problems[f"{uid}?lang={lang}"] = sorted(set(found))
    finally:
        mgr_ctx.close()
        server.proc.terminate()
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)
    report = "\n".join(f"[{screen}] {p}" for screen, ps in problems.items() for p in ps)
    print(report)
    total = sum(len(v) for v in problems.values())
    assert not problems, f"{total} machine-text / untranslated strings on {len(problems)} screens:\n{report}"


def test_free_text_is_marked_as_the_original_and_names_read_in_english() -> None:
    from core.api import PanelContext
    en = PanelContext("p", "p.x", {}, "en", store=None, settings=None)
    zh = PanelContext("p", "p.x", {}, "zh_CN", store=None, settings=None)
    note = "车间疏散通道堆放成品"
    span = en.original(note)
    assert span.lang == "zh-CN" and span.className == "tb-original" and span.children == note
    assert en.original(note, en="Finished goods block the escape route") == "Finished goods block the escape route"
    assert zh.original(note, en="Finished goods block the escape route") == note
    assert en.original("Blocked exit") == "Blocked exit"
    assert en.name("海门街道") == "Haimen Subdistrict" and en.name("海门街道", "Haimen") == "Haimen"
    assert zh.name("海门街道", "Haimen") == "海门街道"
    # the audit takes marked originals out before its English check, and only those
    line = f"Finding · {note} · Rectifying"
    assert english_problems(line) and not english_problems(without_originals(line, [note]))
    assert english_problems(without_originals("隐患整改超期 · " + note, [note]))


def test_names_without_an_english_form_read_in_english_words_and_pinyin() -> None:
    from core.api import name_en
    assert name_en("海门街道") == "Haimen Subdistrict"
    assert name_en("椒江区") == "Jiaojiang District"
    assert name_en("台州华达化工有限公司") == "Taizhou Huada Chemical Co., Ltd."
    assert name_en("外沙岩头化工园区") == "Waisha Yantou Chemical Park"
    assert name_en("海门潮位站") == "Haimen Tide Station"
    assert name_en("Jiao River") == "Jiao River"
    assert not english_problems(name_en("前所再生塑料加工点"))
