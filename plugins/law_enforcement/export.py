"""The 互联网+监管 export: a year's plan and records as one JSON document and four CSV files.

Layout: README "互联网+监管 export" and ``export.schema.json`` (the JSON Schema of :class:`ExportDoc`,
kept equal to the model by a test). Idempotent: no clock in the output, rows ordered by their stable
ids, fixed key and column order, so the same records give the same bytes. Validated: the document is
checked against the schema before anything is written; an invalid one raises ExportError naming the
row (with its id) and the field, and no file is written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.api import Store

from . import grading, records as rec_mod
from .model import Inspector, inspectors, records, tasks

FORMAT = "twinboard.law_enforcement.hlwjg"
VERSION = 1
DATE = r"^\d{4}-\d{2}-\d{2}$"
SCHEMA_FILE = Path(__file__).with_name("export.schema.json")


class ExportError(ValueError):
    """The export does not meet its schema; says which row and field."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ExInspector(_M):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    cert_no: str = Field(min_length=1, description="enforcement certificate number (执法证号)")


class ExTask(_M):
    task_id: str = Field(pattern=r"^le\.(task|fu)\.")
    kind: Literal["plan", "added", "follow_up"]
    enterprise_id: str = Field(min_length=1)
    enterprise_name: str = Field(min_length=1)
    uscc: str = Field(pattern=r"^([0-9A-Z]{15,18})?$", description="unified social credit code, '' when unknown")
    town: str = Field(min_length=1)
    town_name: str = Field(min_length=1)
    risk_grade: Literal["A", "B", "C", "D"]
    month: int = Field(ge=1, le=12)
    due_date: str = Field(pattern=DATE)
    inspectors: list[ExInspector] = Field(min_length=1)
    state: Literal["planned", "done", "cancelled"]
    done_date: str | None = Field(pattern=DATE)
    record_id: str | None
    result: Literal["rectified", "not_rectified"] | None


class ExFinding(_M):
    finding_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    type_name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    legal_basis: str = Field(pattern=r"^《[^》]+》.*第.+条")
    level: Literal["general", "major"]


class ExMeasure(_M):
    measure_id: str = Field(min_length=1)
    kind: Literal["rectify_now", "rectify_order", "fine", "suspend"]
    kind_name: str = Field(min_length=1)
    deadline: str | None = Field(pattern=DATE)
    amount_cny: int | None = Field(ge=1)
    basis: str | None
    finding_id: str | None

    @model_validator(mode="after")
    def _kind_fields(self) -> ExMeasure:
        if self.kind == "rectify_order" and not self.deadline:
            raise ValueError("a rectify_order needs a deadline")
        if self.kind == "fine" and (self.amount_cny is None or not self.basis or not self.finding_id):
            raise ValueError("a fine needs amount_cny, basis and finding_id")
        return self


class ExRecord(_M):
    record_id: str = Field(pattern=r"^le\.rec\.")
    task_id: str = Field(pattern=r"^le\.task\.")
    enterprise_id: str = Field(min_length=1)
    enterprise_name: str = Field(min_length=1)
    uscc: str = Field(pattern=r"^([0-9A-Z]{15,18})?$")
    town: str = Field(min_length=1)
    inspection_date: str = Field(pattern=DATE)
    inspectors: list[ExInspector] = Field(min_length=1)
    findings: list[ExFinding]
    measures: list[ExMeasure]
    fines_cny: int = Field(ge=0)
    state: Literal["rectifying", "closed"]
    closed_date: str | None = Field(pattern=DATE)
    follow_ups: list[str]

    @model_validator(mode="after")
    def _links(self) -> ExRecord:
        ids = {f.finding_id for f in self.findings}
        for m in self.measures:
            if m.finding_id is not None and m.finding_id not in ids:
                raise ValueError(f"measure {m.measure_id} names finding {m.finding_id}, which this record lacks")
        if self.state == "closed" and not self.closed_date:
            raise ValueError("a closed record needs its closed_date")
        return self


class ExCounts(_M):
    tasks: int = Field(ge=0)
    records: int = Field(ge=0)
    findings: int = Field(ge=0)
    fines_cny: int = Field(ge=0)


class ExportDoc(_M):
    """The 互联网+监管 export of one year (format twinboard.law_enforcement.hlwjg, version 1)."""

    format: Literal["twinboard.law_enforcement.hlwjg"]
    version: Literal[1]
    region_code: str = Field(pattern=r"^\d{6}$")
    year: int = Field(ge=2000, le=2100)
    counts: ExCounts
    plan: list[ExTask]
    records: list[ExRecord]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the export document (what export.schema.json holds)."""
    return ExportDoc.model_json_schema()


def _people(ids: list[str], people: dict[str, Inspector]) -> list[dict[str, str]]:
    out = []
    for i in ids:
        p = people.get(i)
        out.append({"id": i, "name": p.name if p else "", "cert_no": p.cert_no if p else ""})
    return out


def build(store: Store, settings: Any, year: int) -> dict[str, Any]:
    """The export document of ``year`` as plain data (not yet validated)."""
    people = {i.id: i for i in inspectors(store)}
    uscc = {e.id: e.uscc for e in grading.enterprises(store, settings.enterprise_kinds)}
    cat = rec_mod.catalog()
    plan = []
    for t in sorted(tasks(store, year), key=lambda t: t.id):
        plan.append({"task_id": t.id, "kind": t.kind, "enterprise_id": t.enterprise,
                     "enterprise_name": t.enterprise_name, "uscc": uscc.get(t.enterprise, ""), "town": t.town,
                     "town_name": grading.town_text(t.town, "zh"), "risk_grade": t.grade, "month": t.month,
                     "due_date": t.due, "inspectors": _people(t.inspectors, people), "state": t.state,
                     "done_date": t.done_on, "record_id": t.record, "result": t.result})
    recs = []
    n_findings = fines = 0
    for r in sorted(records(store, year), key=lambda r: r.id):
        fids = [f"{r.id}.f{k + 1}" for k in range(len(r.findings))]
        findings = [{"finding_id": fids[k], "type": f.get("type"),
                     "type_name": (cat.get(f.get("type"), {}) or {}).get("zh", ""),
                     "description": f.get("description"), "legal_basis": f.get("legal_basis"),
                     "level": f.get("level")} for k, f in enumerate(r.findings)]
        measures = []
        for k, m in enumerate(r.measures):
            fi = m.get("finding")
            measures.append({"measure_id": f"{r.id}.m{k + 1}", "kind": m.get("kind"),
                             "kind_name": rec_mod.MEASURES.get(m.get("kind"), ("", ""))[0],
                             "deadline": m.get("deadline"), "amount_cny": m.get("amount"), "basis": m.get("basis"),
                             "finding_id": fids[fi] if isinstance(fi, int) and 0 <= fi < len(fids) else
                             (f"{r.id}.f{fi + 1}" if isinstance(fi, int) else None)})
        n_findings += len(findings)
        fines += r.fine_total()
        recs.append({"record_id": r.id, "task_id": r.task, "enterprise_id": r.enterprise,
                     "enterprise_name": r.enterprise_name, "uscc": uscc.get(r.enterprise, ""), "town": r.town,
                     "inspection_date": r.date, "inspectors": _people(r.inspectors, people), "findings": findings,
                     "measures": measures, "fines_cny": r.fine_total(), "state": r.state,
                     "closed_date": r.closed_on, "follow_ups": sorted(r.follow_ups)})
    return {"format": FORMAT, "version": VERSION, "region_code": settings.region_code, "year": int(year),
            "counts": {"tasks": len(plan), "records": len(recs), "findings": n_findings, "fines_cny": fines},
            "plan": plan, "records": recs}


def _where(doc: dict[str, Any], loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    node: Any = doc
    for k in loc:
        if isinstance(k, int):
            parts[-1] += f"[{k}]"
            try:
                node = node[k]
            except (IndexError, KeyError, TypeError):
                node = None
            row_id = next((node.get(f) for f in ("record_id", "task_id", "finding_id", "measure_id", "id")
                           if isinstance(node, dict) and node.get(f)), None)
            if row_id and len(parts) == 1:
                parts[-1] += f" ({row_id})"
        else:
            parts.append(str(k))
            node = node.get(k) if isinstance(node, dict) else None
    return ".".join(parts)


def validate(doc: dict[str, Any]) -> ExportDoc:
    """Check ``doc`` against the schema; ExportError lists each problem as 'row (id).field: message'."""
    try:
        return ExportDoc.model_validate(doc)
    except ValidationError as exc:
        lines = [f"{_where(doc, tuple(e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()[:20]]
        more = f" (and {len(exc.errors()) - 20} more)" if len(exc.errors()) > 20 else ""
        raise ExportError(f"the {doc.get('year')} export is invalid, nothing written: " + "; ".join(lines) + more
                          ) from None


def to_json(doc: ExportDoc) -> bytes:
    return (json.dumps(doc.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


PLAN_COLUMNS = ("task_id", "kind", "enterprise_id", "enterprise_name", "uscc", "town", "town_name", "risk_grade",
                "month", "due_date", "inspector_ids", "inspector_cert_nos", "state", "done_date", "record_id",
                "result")
RECORD_COLUMNS = ("record_id", "task_id", "enterprise_id", "enterprise_name", "uscc", "town", "inspection_date",
                  "inspector_ids", "inspector_cert_nos", "findings", "measures", "fines_cny", "state", "closed_date",
                  "follow_ups")
FINDING_COLUMNS = ("record_id", "finding_id", "type", "type_name", "description", "legal_basis", "level")
MEASURE_COLUMNS = ("record_id", "measure_id", "kind", "kind_name", "deadline", "amount_cny", "basis", "finding_id")


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")   # BOM: Excel opens the Chinese text as UTF-8


def to_csv(doc: ExportDoc) -> dict[str, bytes]:
    """plan.csv, records.csv, findings.csv, measures.csv; lists joined with '|'."""
    d = doc.model_dump(mode="json")
    plan = [{**t, "inspector_ids": "|".join(i["id"] for i in t["inspectors"]),
             "inspector_cert_nos": "|".join(i["cert_no"] for i in t["inspectors"])} for t in d["plan"]]
    recs, finds, meas = [], [], []
    for r in d["records"]:
        recs.append({**r, "inspector_ids": "|".join(i["id"] for i in r["inspectors"]),
                     "inspector_cert_nos": "|".join(i["cert_no"] for i in r["inspectors"]),
                     "findings": len(r["findings"]), "measures": "|".join(m["kind"] for m in r["measures"]),
                     "follow_ups": "|".join(r["follow_ups"])})
        finds += [{"record_id": r["record_id"], **f} for f in r["findings"]]
        meas += [{"record_id": r["record_id"], **m} for m in r["measures"]]
    return {"plan.csv": _csv(PLAN_COLUMNS, plan), "records.csv": _csv(RECORD_COLUMNS, recs),
            "findings.csv": _csv(FINDING_COLUMNS, finds), "measures.csv": _csv(MEASURE_COLUMNS, meas)}


def files(store: Store, settings: Any, year: int) -> dict[str, bytes]:
    """Every export file of ``year`` by name, validated (ExportError otherwise)."""
    doc = validate(build(store, settings, year))
    return {f"hlwjg-{year}.json": to_json(doc), **to_csv(doc)}


def write(store: Store, settings: Any, year: int, folder: Path) -> dict[str, Path]:
    """Validate, then write every file into ``folder/<year>/`` (each replaced atomically); returns the paths."""
    out = files(store, settings, year)
    target = folder / str(year)
    target.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in out.items():
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target / name)
        paths[name] = target / name
    return paths
