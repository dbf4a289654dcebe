"""Plans (预案): response levels IV..I with their checklists, transfers and shelter occupancy, five-nets scores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LEVELS = ("IV", "III", "II", "I")
LEVEL_OF_SEVERITY = {4: "IV", 3: "III", 2: "II", 1: "I"}


class PlanError(ValueError):
    """plans.yaml is incomplete."""


@dataclass(frozen=True)
class Action:
    id: str
    action: str
    action_en: str
    role: str
    person: str
    minutes: float


@dataclass(frozen=True)
class Plan:
    levels: dict[str, tuple[str, str, tuple[Action, ...]]]
    nets: tuple[dict[str, Any], ...]
    items_per_net: int
    pass_score: float


def load_plan(path: Path) -> Plan:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    levels = {}
    for lv in LEVELS:
        d = (data.get("levels") or {}).get(lv)
        if not d or not d.get("actions"):
            raise PlanError(f"{path}: field 'levels.{lv}': every response level IV..I needs actions")
        acts = tuple(Action(a["id"], a["action"], a.get("action_en", a["action"]), a.get("role", ""),
                            a.get("person", ""), float(a.get("minutes", 60))) for a in d["actions"])
        levels[lv] = (d.get("name", lv), d.get("name_en", lv), acts)
    nets = tuple(data.get("five_nets") or ())
    if len(nets) != 5:
        raise PlanError(f"{path}: field 'five_nets': expected the 5 nets, got {len(nets)}")
    return Plan(levels, nets, int(data.get("items_per_net", 12)), float(data.get("pass_score", 90)))


def response_level(open_severities: Sequence[int]) -> str | None:
    """The response a set of open warnings calls for: the most severe one's level."""
    return LEVEL_OF_SEVERITY.get(min(open_severities)) if open_severities else None


def active_actions(plan: Plan, level: str) -> list[tuple[str, Action]]:
    """A level's actions and those of every lower level (a III response still does the IV checklist)."""
    out = []
    for lv in LEVELS[:LEVELS.index(level) + 1]:
        out.extend((lv, a) for a in plan.levels[lv][2])
    return out


def action_status(action: Action, opened_at: float, now: float, done: Mapping[str, float],
                  speed: float = 1.0) -> tuple[str, float | None]:
    """('done' | 'due' | 'overdue', time done). ``done`` maps action id → time reported done;
    ``speed`` > 0 (demo progress) runs the clock that much faster and marks an action done at 80 % of its
    minutes; 0 leaves completion to reports (the route) and flags actions past their minutes as overdue."""
    if action.id in done:
        return "done", done[action.id]
    elapsed_min = (now - opened_at) / 60.0 * (speed if speed > 0 else 1.0)
    if speed > 0 and elapsed_min >= action.minutes * 0.8:
        return "done", opened_at + action.minutes * 0.8 * 60 / speed
    return ("overdue" if elapsed_min > action.minutes else "due"), None


# -- transfers --------------------------------------------------------------------------------

@dataclass
class TransferState:
    villages: list[dict[str, Any]] = field(default_factory=list)
    shelters: list[dict[str, Any]] = field(default_factory=list)
    to_transfer: int = 0
    transferred: int = 0
    unplaced: int = 0


def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot((a[0] - b[0]) * math.cos(math.radians(a[1])), a[1] - b[1])


def transfers(villages: Sequence[Any], shelters: Sequence[Any], progress: float,
              flooded_shelters: Sequence[str] = (), reported: Mapping[str, float] | None = None) -> TransferState:
    """People to transfer per village (``to_transfer``), moved so far (``progress`` 0..1 of them), placed in
    the nearest usable shelter of their town first, then the nearest anywhere, up to capacity.

    ``reported`` (village id → people moved) are counts confirmed in the field — grid workers' evacuation
    confirmations, stored by grid_patrol as the village's ``transferred`` reading; a village with one uses
    it instead of ``progress``."""
    progress = min(max(progress, 0.0), 1.0)
    usable = [s for s in shelters if s.id not in set(flooded_shelters)]
    occ = {s.id: 0 for s in shelters}
    cap = {s.id: int(s.properties.get("capacity", 0)) for s in shelters}
    st = TransferState()
    for v in sorted(villages, key=lambda v: -int(v.properties.get("to_transfer", 0))):
        need = int(v.properties.get("to_transfer", 0))
        moved = int(reported[v.id]) if reported and v.id in reported else int(round(need * progress))
        left = moved
        town = v.properties.get("town")
        pos = v.geometry["coordinates"]
        order = sorted(usable, key=lambda s: (s.properties.get("town") != town, _dist(pos, s.geometry["coordinates"])))
        for s in order:
            if left <= 0:
                break
            take = min(left, cap[s.id] - occ[s.id])
            if take > 0:
                occ[s.id] += take
                left -= take
        st.unplaced += left
        st.to_transfer += need
        st.transferred += moved
        st.villages.append({"id": v.id, "name": v.name, "name_en": v.name_en, "town": town,
                            "to_transfer": need, "transferred": moved, "responsible": v.properties.get("responsible", ""),
                            "reported": bool(reported and v.id in reported)})
    for s in shelters:
        st.shelters.append({"id": s.id, "name": s.name, "name_en": s.name_en, "capacity": cap[s.id],
                            "occupied": occ[s.id], "flooded": s.id in set(flooded_shelters)})
    return st


# -- five nets ------------------------------------------------------------------------------------

def five_nets_scores(plan: Plan, towns: Sequence[Any]) -> list[dict[str, Any]]:
    """Per town: each net's score (items met / items per net × 100), the total and pass/fail.

    A town passes when its total reaches ``pass_score`` and no net is below 75. A town without
    the status of a net gets None for it and fails (missing data is not a pass).
    """
    out = []
    for t in towns:
        met = (t.properties or {}).get("five_nets_met") or {}
        scores: dict[str, float | None] = {}
        for net in plan.nets:
            m = met.get(net["key"])
            scores[net["key"]] = None if m is None else round(100.0 * min(float(m), plan.items_per_net)
                                                              / plan.items_per_net, 1)
        known = [v for v in scores.values() if v is not None]
        total = round(sum(known) / len(plan.nets), 1) if known else 0.0
        ok = len(known) == len(plan.nets) and total >= plan.pass_score and min(known) >= 75
        out.append({"id": t.id, "name": t.name, "name_en": t.name_en, "scores": scores, "total": total, "pass": ok})
    return out
