"""Store.raise_alert (issue 18, item 3): an escalated alert takes the escalating draft's title, level,
message and details; a milder draft leaves the alert at its worst level with that level's texts."""

from __future__ import annotations

from pathlib import Path

from core.api import AlertDraft, Reading, Severity
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import twin_store  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
wn = import_plugin_submodule(ROOT / "plugins" / "flood_defence", "warnings")

RULE, ENT = "flood_defence.water_level", "fd.station.jiaojiang"


def _draft(sev: Severity, colour: str, colour_en: str, value: float, details=None) -> AlertDraft:
    return AlertDraft(RULE, ENT, sev, f"椒江水位站{colour}水位预警", f"椒江水位站 {value:.2f} m", value, details,
                      title_en=f"Jiaojiang {colour_en} water-level warning", message_en=f"Jiaojiang {value:.2f} m")


def _open(store):
    [a] = [a for a in store.alerts(limit=100) if a.rule_id == RULE and a.entity_id == ENT]
    return a


def test_escalation_blue_to_red_takes_the_red_title_level_message_and_details(twin_store):
    a, new = twin_store.raise_alert(_draft(Severity.IV, "蓝色", "blue", 4.8, {"threshold": "nearing_warning"}),
                                    "flood_defence")
    assert new and a.title == "椒江水位站蓝色水位预警"
    b, escalated = twin_store.raise_alert(_draft(Severity.I, "红色", "red", 6.7, {"threshold": "historical_max"}),
                                          "flood_defence")
    assert escalated and b.id == a.id
    got = _open(twin_store)                                  # read back from SQLite, not the returned object
    assert got.id == a.id and got.severity == Severity.I
    assert got.title == "椒江水位站红色水位预警" and "蓝色" not in got.title
    assert got.title_en == "Jiaojiang red water-level warning"
    assert got.message == "椒江水位站 6.70 m" and got.message_en == "Jiaojiang 6.70 m" and got.value == 6.7
    assert got.details == {"threshold": "historical_max"}


def test_escalation_without_details_drops_the_milder_levels_details(twin_store):
    twin_store.raise_alert(_draft(Severity.IV, "蓝色", "blue", 4.8, {"threshold": "nearing_warning"}), "flood_defence")
    twin_store.raise_alert(_draft(Severity.III, "黄色", "yellow", 5.1), "flood_defence")
    got = _open(twin_store)
    assert got.severity == Severity.III and got.title == "椒江水位站黄色水位预警" and got.details is None


def test_a_milder_draft_keeps_the_worst_level_and_its_title(twin_store):
    """De-escalation is not done: the alert keeps its worst level (closing is the rule's clears())."""
    twin_store.raise_alert(_draft(Severity.II, "橙色", "orange", 5.9, {"threshold": "guaranteed"}), "flood_defence")
    _, changed = twin_store.raise_alert(_draft(Severity.IV, "蓝色", "blue", 4.8, {"threshold": "nearing_warning"}),
                                        "flood_defence")
    got = _open(twin_store)
    assert not changed and got.severity == Severity.II and got.title == "椒江水位站橙色水位预警"
    assert got.value == 5.9 and got.details == {"threshold": "guaranteed"}
    # the same level again: the texts follow the newer reading
    twin_store.raise_alert(_draft(Severity.II, "橙色", "orange", 6.1, {"threshold": "guaranteed"}), "flood_defence")
    got = _open(twin_store)
    assert got.severity == Severity.II and got.value == 6.1 and got.message == "椒江水位站 6.10 m"


def test_water_level_rule_escalating_blue_to_red_through_the_store(twin_store):
    th = wn.Thresholds(5.0, 5.8, 6.6)
    rule = wn.WaterLevelRule(RULE, {ENT: (th, "water_level_m", "椒江水位站")}, 0.2)
    t0 = 1_700_000_000.0
    for i, level in enumerate([4.5, 4.8, 5.2, 5.6, 6.0, 6.4, 6.7]):        # 0.4 m per 10 min
        for d in rule.evaluate([Reading(ENT, "water_level_m", t0 + 600 * i, level, "m")]):
            twin_store.raise_alert(d, "flood_defence")
    got = _open(twin_store)
    assert got.severity == Severity.I and got.title == "椒江水位站红色水位预警"
    assert "历史最高水位" in got.message and got.value == 6.7
