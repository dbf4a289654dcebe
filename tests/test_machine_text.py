"""Issue 19 points 1 and 4: every string on a wall screen is written for people, in the screen's language.

The rules here are applied to every dashboard, in Chinese and English, by ``tests/test_wall_audit.py`` (all
plugins, a drill and live alarms, Chromium at 1920×1080) to:

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

import re

import pytest


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


def _text_layer_texts(node: object, out: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("@@type") == "TextLayer" and isinstance(node.get("data"), list):
            out.extend(str(r.get("text", "")) for r in node["data"] if isinstance(r, dict))
        for v in node.values():
            _text_layer_texts(v, out)
    elif isinstance(node, list):
        for v in node:
            _text_layer_texts(v, out)


def without_originals(text: str, originals: list[str]) -> str:
    """``text`` with each marked original (a person's free text in Chinese) replaced by a placeholder."""
    for o in sorted(set(originals), key=len, reverse=True):
        if o.strip():
            text = text.replace(o, "‹original›")
    return text


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


def test_people_read_surname_first_in_pinyin_on_english_screens() -> None:
    from core.api import PanelContext, person_en
    assert person_en("罗佳琪") == "Luo Jiaqi" and person_en("欧阳明") == "Ouyang Ming"
    assert person_en("曾庆华") == "Zeng Qinghua"                       # a surname's own reading
    assert person_en("胡某某") == "Hu X." and person_en("袁志刚、曾庆华") == "Yuan Zhigang, Zeng Qinghua"
    assert person_en("Li Wei") == "Li Wei"
    en = PanelContext("p", "p.x", {}, "en", store=None, settings=None)
    zh = PanelContext("p", "p.x", {}, "zh_CN", store=None, settings=None)
    assert en.person("罗佳琪") == "Luo Jiaqi" and zh.person("罗佳琪") == "罗佳琪" and en.person("罗佳琪", "Jackie Luo") == "Jackie Luo"
