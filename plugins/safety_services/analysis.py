"""The regulator's analysis, as pure functions over the stored records (the panels and the API show them).

- **Coverage**: an enterprise is covered on a day when it has a contract in force with an agency that
  holds at least one valid qualification that day.
- **Findings per service**: signed records per service type, their findings (general / major) and the
  findings per record.
- **Repeat findings not fixed**: the same check-list item found at the same enterprise in two or more
  signed records on different days; it counts as *not fixed* while the hazard its latest finding opened in
  the enterprise's loop (the ``inspection`` entity whose ``ref`` is ``<record>.<item>``) is not closed.
- **Copied-looking services**: two records of the same service type at different enterprises whose
  findings text is near-identical. The text of a record is its findings' notes (sorted by item), with
  both enterprises' names, digits, whitespace and punctuation removed; records with less than
  ``copy_min_chars`` left are not compared. Similarity is the Jaccard index of the character 3-gram sets;
  identical texts (same SHA-1) are 1.0. Enterprise names are dropped in full, as their first four and
  their first two characters (the trade name, 字号), so "海明塑料仓库…" and "清森纺织仓库…" compare equal. A pair at or above ``copy_threshold`` (0.8) is flagged.
- **Quality score** (0–100) of an agency = 100 × Σ weight × factor, factors in 0..1 (weights in the
  settings, default in brackets):
  ``signed`` (0.30) share of its decided records the enterprise accepted (signed / (signed + rejected));
  ``original`` (0.25) share of its records not in a flagged copied pair;
  ``delivered`` (0.20) share of (contract, service) pairs of contracts in force for ≥ 90 days that have a
  signed record; ``evidence`` (0.15) share of its findings with at least one photo;
  ``qualified`` (0.10) share of its qualifications valid today.
  A factor without data (no records yet) counts as 1 and is shown as “–”.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from .model import Agency, Contract, Record

DELIVERY_GRACE_DAYS = 90
_STRIP = re.compile(r"[\s\d]+")


# -- coverage --------------------------------------------------------------------------------------------------
def covered(enterprise_ids: list[str], contracts: list[Contract], agencies: list[Agency],
            day: dt.date) -> dict[str, list[str]]:
    """Enterprise id → ids of agencies serving it on ``day`` (empty list: not covered)."""
    qualified = {a.id for a in agencies if a.valid_on(day)}
    out: dict[str, list[str]] = {e: [] for e in enterprise_ids}
    for c in contracts:
        if c.enterprise in out and c.active_on(day) and c.agency in qualified and c.agency not in out[c.enterprise]:
            out[c.enterprise].append(c.agency)
    return out


# -- findings per service ------------------------------------------------------------------------------------------
def findings_per_service(records: list[Record]) -> dict[str, dict[str, float]]:
    """Service → {records, general, major, per_record} over signed records."""
    out: dict[str, dict[str, float]] = {}
    for r in records:
        if r.state != "signed":
            continue
        row = out.setdefault(r.service, {"records": 0, "general": 0, "major": 0})
        row["records"] += 1
        for f in r.findings():
            row["major" if f.get("level") == "major" else "general"] += 1
    for row in out.values():
        row["per_record"] = (row["general"] + row["major"]) / row["records"]
    return out


# -- repeats -----------------------------------------------------------------------------------------------------
@dataclass
class Repeat:
    enterprise: str
    enterprise_name: str
    item: str
    times: int
    first: str
    last: str
    loop_state: str          # the hazard loop's state of the latest finding ("" when it has none)
    records: list[str] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        return self.loop_state == "closed"


def repeats(records: list[Record], loop_states: dict[str, str]) -> list[Repeat]:
    """Items found at the same enterprise in signed records on two or more days, newest-last first.
    ``loop_states``: hazard ``ref`` (``<record>.<item>``) → the loop's state."""
    seen: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.state == "signed":
            for f in r.findings():
                seen[(r.enterprise, f["key"])].append(r)
    out = []
    for (ent, key), recs in seen.items():
        if len({r.date for r in recs}) < 2:
            continue
        recs.sort(key=lambda r: (r.date, r.id))
        last = recs[-1]
        out.append(Repeat(ent, last.enterprise_name, key, len(recs), recs[0].date, last.date,
                          loop_states.get(f"{last.id}.{key}", ""), [r.id for r in recs]))
    return sorted(out, key=lambda x: (x.fixed, -x.times, x.last, x.enterprise), reverse=False)


# -- copied ------------------------------------------------------------------------------------------------------
def normalise(text: str, names: list[str] = ()) -> str:  # type: ignore[assignment]
    """The text without the given names, digits, whitespace and punctuation (NFKC, lower case)."""
    t = unicodedata.normalize("NFKC", text).lower()
    for n in names:
        if n:
            t = t.replace(unicodedata.normalize("NFKC", n).lower(), "")
    t = _STRIP.sub("", t)
    return "".join(ch for ch in t if not unicodedata.category(ch).startswith(("P", "S")))


def findings_text(r: Record, names: list[str] = ()) -> str:  # type: ignore[assignment]
    return normalise("".join(f["note"] for f in sorted(r.findings(), key=lambda f: f["key"])), names)


def shingles(text: str, k: int = 3) -> set[str]:
    return {text[i:i + k] for i in range(max(1, len(text) - k + 1))}


def similarity(a: str, b: str) -> float:
    """1.0 for identical texts, else the Jaccard index of their character 3-gram sets."""
    if hashlib.sha1(a.encode()).digest() == hashlib.sha1(b.encode()).digest():
        return 1.0
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


@dataclass(frozen=True)
class CopiedPair:
    a: str
    b: str
    service: str
    similarity: float
    agencies: tuple[str, str]
    enterprises: tuple[str, str]


def _names(name: str) -> list[str]:
    """An enterprise's full name and its trade name (字号: the first four, then two characters)."""
    return [name, name[:4], name[:2]] if len(name) >= 6 else [name]


def copied(records: list[Record], threshold: float, min_chars: int) -> list[CopiedPair]:
    """Pairs of records (same service, different enterprises) whose findings text looks copied."""
    by_service: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.state != "rejected" and r.findings():
            by_service[r.service].append(r)
    out = []
    for service, recs in by_service.items():
        for x, y in combinations(sorted(recs, key=lambda r: r.id), 2):
            if x.enterprise == y.enterprise:
                continue
            names = _names(x.enterprise_name) + _names(y.enterprise_name)
            tx, ty = findings_text(x, names), findings_text(y, names)
            if min(len(tx), len(ty)) < min_chars:
                continue
            s = similarity(tx, ty)
            if s >= threshold:
                out.append(CopiedPair(x.id, y.id, service, round(s, 3), (x.agency, y.agency),
                                      (x.enterprise_name, y.enterprise_name)))
    return sorted(out, key=lambda p: (-p.similarity, p.a, p.b))


# -- quality -----------------------------------------------------------------------------------------------------
@dataclass
class Quality:
    agency: str
    name: str
    score: float
    factors: dict[str, float | None]      # None: no data (counts as 1)
    records: int


def quality(agencies: list[Agency], contracts: list[Contract], records: list[Record], copied_pairs: list[CopiedPair],
            weights: dict[str, float], today: dt.date) -> list[Quality]:
    """Every agency's quality score with its factors, best first (formula in the module's docstring)."""
    flagged = {p.a for p in copied_pairs} | {p.b for p in copied_pairs}
    out = []
    for a in agencies:
        mine = [r for r in records if r.agency == a.id]
        decided = [r for r in mine if r.state in ("signed", "rejected")]
        signed_ids = {(r.contract, r.service) for r in mine if r.state == "signed"}
        due = [(c.id, s) for c in contracts if c.agency == a.id and c.state == "active"
               and (today - dt.date.fromisoformat(c.start)).days >= DELIVERY_GRACE_DAYS for s in c.services]
        finds = [f for r in mine if r.state != "rejected" for f in r.findings()]
        f: dict[str, float | None] = {
            "signed": sum(r.state == "signed" for r in decided) / len(decided) if decided else None,
            "original": sum(r.id not in flagged for r in mine) / len(mine) if mine else None,
            "delivered": sum(p in signed_ids for p in due) / len(due) if due else None,
            "evidence": sum(bool(x.get("photos")) for x in finds) / len(finds) if finds else None,
            "qualified": len(a.valid_on(today)) / len(a.qualifications) if a.qualifications else 0.0,
        }
        score = 100 * sum(weights[k] * (1.0 if v is None else v) for k, v in f.items())
        out.append(Quality(a.id, a.name, round(score, 1), f, len(mine)))
    return sorted(out, key=lambda q: (-q.score, q.agency))


def loop_states(store: Any) -> dict[str, str]:
    """Hazard-loop states by ``ref`` for the hazards this plugin's findings opened (read through the store)."""
    return {str(e.properties.get("ref")): str(e.properties.get("state", ""))
            for e in store.entities(kind="inspection")
            if str((e.properties or {}).get("ref", "")).startswith("ss.rec.")}
