"""Chinese first, English available, through gettext catalogs."""

from core.i18n import Translator, normalize_locale


def test_normalize_locale() -> None:
    assert [normalize_locale(v) for v in ("zh", "zh-CN", "zh_Hans", "en-US", "EN", None, "fr")] == \
        ["zh_CN", "zh_CN", "zh_CN", "en", "en", "zh_CN", "zh_CN"]


def test_host_catalog() -> None:
    t = Translator()
    assert t.gettext("Stale", "zh_CN") == "数据过期"
    assert t.gettext("Stale", "en") == "Stale"
    assert t.gettext("never translated", "zh_CN") == "never translated"


def test_every_host_message_has_a_chinese_translation() -> None:
    import re
    from pathlib import Path
    core = Path(__file__).resolve().parent.parent / "core"
    used = set()
    for tpl in (core / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\(\"([^\"]+)\"\)", tpl.read_text(encoding="utf-8")))
        used |= set(re.findall(r"\bt\('([^']+)'\)", tpl.read_text(encoding="utf-8")))
    for py in core.glob("*.py"):
        used |= set(re.findall(r"\bt\(\"([^\"]+)\"", py.read_text(encoding="utf-8")))
        used |= set(re.findall(r"gettext\(\"([^\"]+)\"", py.read_text(encoding="utf-8")))
    t = Translator()
    missing = sorted(m for m in used if t.gettext(m, "zh_CN") == m)
    assert not missing, f"messages without a zh_CN translation: {missing}"
