"""Editing one stored training record: the fields a manager may change, checked as an import checks
them, audited with old and new values in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.api import AuditEntry, Store

from . import records as R
from .importer import BOOKKEEPING, LAYOUTS, ImportRefused, blank, training_rules, context


#: what a manager may change on a stored training record (its identity fields stay: see ``records``)
EDITABLE = ("hours", "expiry", "town", "note", "withdrawn")


def edit_record(store: Store, record_id: str, changes: dict[str, Any], actor: str,
                today: dt.date | None = None, enterprise_kinds: tuple[str, ...] | None = None) -> R.Stored:
    """Change ``EDITABLE`` fields of one training record (same checks as an import) or withdraw it
    (``{"withdrawn": true}``: it no longer counts); audited with old and new values. ImportRefused names
    the field."""
    e = store.entity(record_id)
    if e is None or e.kind != R.KIND_TRAINING or e.plugin != R.PLUGIN:
        raise ImportRefused([f"record {record_id}: no such training record"])
    old = dict(e.properties or {})
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ImportRefused([f"record {record_id}: field '{unknown[0]}': cannot be edited here "
                             f"(editable: {', '.join(EDITABLE)}; to correct who, where, what or when, "
                             "withdraw the record and import the corrected row)"])
    new = {k: x for k, x in old.items() if k not in BOOKKEEPING and k != "unit_id"}
    errors: list[str] = []
    for col in LAYOUTS["training"]:
        if col.name not in changes:
            continue
        raw = changes[col.name]
        if blank(raw):
            if col.required:
                errors.append(f"record {record_id}: field '{col.name}': required, empty")
            new.pop(col.name, None)
            continue
        try:
            x = col.parse(raw)
            new[col.name] = x.isoformat() if isinstance(x, dt.date) else x
        except ValueError as exc:
            errors.append(f"record {record_id}: field '{col.name}': {exc}")
    ctx = context(store, today, enterprise_kinds)
    if not errors:
        typed = {k: (dt.date.fromisoformat(x) if k in ("date", "expiry") and x else x) for k, x in new.items()
                 if k in {c.name for c in LAYOUTS["training"]}}
        errors += [f"record {record_id}: field '{f}': {why}" for f, why in training_rules(ctx)(typed)]
    if "withdrawn" in changes:
        if not isinstance(changes["withdrawn"], bool):
            errors.append(f"record {record_id}: field 'withdrawn': must be true or false")
        else:
            new["withdrawn"] = changes["withdrawn"]
    if errors:
        raise ImportRefused(errors)
    new["unit_id"] = ctx.enterprises.get(R.norm(new["unit"]).lower())
    props = {**{k: old[k] for k in BOOKKEEPING if k in old}, **new}
    diff = {k: [old.get(k), props.get(k)] for k in set(old) | set(props) if old.get(k) != props.get(k)}
    audit = AuditEntry(actor=actor[:64], action=f"{R.PLUGIN}.edit", target=f"training:{record_id}",
                       old={k: v[0] for k, v in diff.items()}, new={k: v[1] for k, v in diff.items()})
    store.upsert([R.entity_for(R.KIND_TRAINING, record_id, new["person"], props, e.geometry)], audit=audit)
    return R.Stored(record_id, new["person"], props)
