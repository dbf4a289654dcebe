"""Import training records, rosters and outreach events from CSV or .xlsx: all rows or none.

Every row is checked first; any error (file, row, column, field, why) refuses the whole file and
nothing is stored. A clean file is stored in one transaction together with its audit entry. Rows
that are already stored unchanged are skipped, changed ones updated, so importing a file twice
stores it once (see ``records`` for what identifies a row).

Columns are found by their header, Chinese or English (``姓名`` or ``person``...); other columns
are ignored and reported. The three layouts are documented in the plugin's README.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.api import AuditEntry, Store

from . import records as R
from .tables import Table, TableError, read_table

DATASETS = ("training", "roster", "outreach")
DATASET_TEXT = {"training": ("培训记录", "Training records"), "roster": ("应训人员名册", "Rosters of who must train"),
                "outreach": ("五进宣教活动", "Outreach events (五进)")}
MAX_ERRORS = 200
#: the district and its waters, generously: outreach coordinates outside are a typo
LON_RANGE, LAT_RANGE = (120.8, 122.3), (28.2, 29.1)


class ImportRefused(ValueError):
    """The file was refused; ``errors`` lists each problem (file:row: field ...); nothing was stored."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0] + more if errors else "import refused")


@dataclass
class ImportResult:
    """What one import did (or, with ``dry_run``, would do)."""

    file: str
    dataset: str
    rows: int
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "dataset": self.dataset, "rows": self.rows, "added": len(self.added),
                "updated": len(self.updated), "unchanged": self.unchanged,
                "ignored_columns": self.ignored_columns, "dry_run": self.dry_run}


# -- cell parsers: value -> parsed, or ValueError(why) ------------------------------------------------
def _text(max_len: int) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = R.norm(v)
        if len(s) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        if s[:1] in ("=", "@"):
            raise ValueError(f"{s[:20]!r} looks like a spreadsheet formula; type the value itself")
        return s
    return parse


def _number(lo: float, hi: float, integer: bool = False, digits: int = 2) -> Callable[[Any], float | int]:
    """A number within ``lo..hi``: whole if ``integer``, else rounded to ``digits`` decimals."""
    def parse(v: Any) -> float | int:
        if isinstance(v, bool):
            raise ValueError(f"not a number: {v!r}")
        if isinstance(v, (int, float)):
            x = float(v)
        else:
            s = R.norm(v).replace(",", "").replace("，", "")
            try:
                x = float(s)
            except ValueError:
                raise ValueError(f"not a number: {str(v)[:30]!r}") from None
        if x != x or not lo <= x <= hi:
            raise ValueError(f"{x:g} is outside {lo:g}..{hi:g}")
        if integer:
            if x != int(x):
                raise ValueError(f"{x:g} is not a whole number")
            return int(x)
        return round(x, digits)
    return parse


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    s = R.norm(v)
    m = _DATE_RE.match(s) or (re.match(r"^(\d{4})(\d{2})(\d{2})$", s) if s.isdigit() else None)
    if not m:
        raise ValueError(f"not a date: {s[:30]!r} (use YYYY-MM-DD)")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise ValueError(f"not a date: {s!r} ({exc})") from None


def _coded(table: Mapping[str, tuple[str, str, tuple[str, ...]]], what: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        code = R.code_of(table, v)  # type: ignore[arg-type]
        if code is None:
            known = "、".join(t[0] for t in table.values())
            raise ValueError(f"unknown {what} {R.norm(v)[:30]!r} (one of: {known})")
        return code
    return parse


def _yes_no(v: Any) -> bool:
    s = R.norm(v).lower()
    if s in ("是", "在岗", "yes", "y", "true", "1"):
        return True
    if s in ("否", "离岗", "no", "n", "false", "0"):
        return False
    raise ValueError(f"{s[:20]!r} is not 是/否 (yes/no)")


@dataclass(frozen=True)
class Column:
    """One field of a layout: its name, the headers that name it, whether it is required, its parser."""

    name: str
    headers: tuple[str, ...]
    parse: Callable[[Any], Any]
    required: bool = True


LAYOUTS: dict[str, tuple[Column, ...]] = {
    "training": (
        Column("person", ("姓名", "人员", "person", "name"), _text(40)),
        Column("unit", ("单位", "工作单位", "所在单位", "unit"), _text(100)),
        Column("category", ("类别", "培训类别", "人员类别", "category"), _coded(R.CATEGORIES, "category")),
        Column("course", ("课程", "培训项目", "培训内容", "course"), _text(100), required=False),
        Column("hours", ("学时", "培训学时", "hours"), _number(0.5, 1000)),
        Column("date", ("培训日期", "日期", "date"), _date),
        Column("expiry", ("有效期至", "证书有效期", "有效期", "expiry"), _date, required=False),
        Column("certificate", ("证书编号", "证书号", "certificate", "certificate_no"), _text(64), required=False),
        Column("town", ("街道", "所属街道", "街道(镇)", "town"), _text(20), required=False),
        Column("note", ("备注", "note"), _text(200), required=False),
    ),
    "roster": (
        Column("person", ("姓名", "人员", "person", "name"), _text(40)),
        Column("unit", ("单位", "工作单位", "所在单位", "unit"), _text(100)),
        Column("role", ("类别", "人员类别", "岗位", "role"), _coded(R.ROLES, "role")),
        Column("town", ("街道", "所属街道", "街道(镇)", "town"), _text(20), required=False),
        Column("active", ("在岗", "是否在岗", "active"), _yes_no, required=False),
        Column("note", ("备注", "note"), _text(200), required=False),
    ),
    "outreach": (
        Column("channel", ("渠道", "五进", "类型", "channel"), _coded(R.CHANNELS, "channel")),
        Column("title", ("活动名称", "活动", "主题", "title"), _text(100)),
        Column("place", ("地点", "活动地点", "place"), _text(100)),
        Column("audience", ("对象", "受众", "参加对象", "audience"), _text(60)),
        Column("count", ("人数", "参加人数", "受众人数", "count"), _number(1, 1_000_000, integer=True)),
        Column("date", ("日期", "活动日期", "date"), _date),
        Column("town", ("街道", "所属街道", "街道(镇)", "town"), _text(20), required=False),
        Column("base", ("示范基地", "基地", "base"), _text(100), required=False),
        Column("lon", ("经度", "lon", "longitude"), _number(*LON_RANGE, digits=6), required=False),
        Column("lat", ("纬度", "lat", "latitude"), _number(*LAT_RANGE, digits=6), required=False),
        Column("note", ("备注", "note"), _text(200), required=False),
    ),
}


def layout_headers(dataset: str, lang: str = "zh") -> list[str]:
    """The header row of a template file for ``dataset`` (first header of each column)."""
    return [c.headers[0] if lang != "en" else c.name for c in LAYOUTS[dataset]]


def _map_columns(table: Table, dataset: str) -> tuple[dict[str, int], list[str], list[str]]:
    """(field → column index, errors, ignored headers)."""
    found: dict[str, int] = {}
    errors: list[str] = []
    ignored: list[str] = []
    for i, h in enumerate(table.header):
        key = R.norm(h).lower()
        col = next((c for c in LAYOUTS[dataset] if key in (x.lower() for x in c.headers)), None)
        if col is None:
            if key:
                ignored.append(h)
            continue
        if col.name in found:
            errors.append(f"{table.where(table.header_row)}: field '{col.name}': two columns name it "
                          f"({table.column(found[col.name])} and {table.column(i)})")
            continue
        found[col.name] = i
    for c in LAYOUTS[dataset]:
        if c.required and c.name not in found:
            errors.append(f"{table.where(table.header_row)}: field '{c.name}': no column for it "
                          f"(header one of: {', '.join(c.headers)})")
    return found, errors, ignored


def blank(v: Any) -> bool:
    """An empty cell (None or only spaces)."""
    return v is None or (isinstance(v, str) and not v.strip())


def parse_rows(table: Table, dataset: str, check: Callable[[dict[str, Any]], list[tuple[str, str]]]
               ) -> tuple[list[tuple[int, dict[str, Any]]], list[str], list[str]]:
    """Every row as a dict of parsed fields; errors as ``file:row: field 'x' (column ...): why``.

    ``check(values)`` adds the dataset's row rules: a list of (field, why)."""
    cols, errors, ignored = _map_columns(table, dataset)
    if errors:
        return [], errors, ignored
    out: list[tuple[int, dict[str, Any]]] = []
    for rownum, cells in table.rows:
        values: dict[str, Any] = {}
        row_errors: list[str] = []
        for col in LAYOUTS[dataset]:
            if col.name not in cols:
                continue
            i = cols[col.name]
            raw = cells[i] if i < len(cells) else None
            if blank(raw):
                if col.required:
                    row_errors.append(f"{table.where(rownum)}: field '{col.name}' ({table.column(i)}): required, empty")
                continue
            try:
                values[col.name] = col.parse(raw)
            except ValueError as exc:
                row_errors.append(f"{table.where(rownum)}: field '{col.name}' ({table.column(i)}): {exc}")
        if not row_errors:
            for name, why in check(values):
                where = f" ({table.column(cols[name])})" if name in cols else ""
                row_errors.append(f"{table.where(rownum)}: field '{name}'{where}: {why}")
        errors.extend(row_errors)
        if not row_errors:
            out.append((rownum, values))
        if len(errors) >= MAX_ERRORS:
            errors.append(f"{table.file}: stopped after {MAX_ERRORS} errors")
            break
    return out, errors, ignored


# -- the three datasets: row rules, identity, properties ---------------------------------------------
@dataclass
class Context:
    """What row rules need to know: today, and the twin's enterprises and demonstration bases by name."""

    today: dt.date
    enterprises: dict[str, str]      # normalised name or id → entity id
    bases: dict[str, str]            # normalised name or id → entity id


def training_rules(ctx: Context) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    """A training row's rules beyond its cells: dates, the 三类 certificate, the enterprise named."""
    def check(v: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        cat = v["category"]
        if v["date"] > ctx.today + dt.timedelta(days=1):
            out.append(("date", f"{v['date']} is in the future"))
        if v["date"] < dt.date(2000, 1, 1):
            out.append(("date", f"{v['date']} is before 2000"))
        if cat in R.THREE_TYPES:
            for name in ("certificate", "expiry"):
                if not v.get(name):
                    out.append((name, f"required for {R.CATEGORIES[cat][0]} (a certificate with its expiry)"))
        if v.get("expiry") and v["expiry"] < v["date"]:
            out.append(("expiry", f"{v['expiry']} is before the training date {v['date']}"))
        if cat in R.ENTERPRISE_CATEGORIES and R.norm(v["unit"]).lower() not in ctx.enterprises:
            some = "、".join(sorted({k for k in ctx.enterprises if not k.startswith(("cp.", "ep.", "sl."))})[:4])
            out.append(("unit", f"{v['unit']!r} is not an enterprise of the twin (e.g. {some})"))
        return out
    return check


def _roster_rules(_ctx: Context) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    return lambda v: []


def _outreach_rules(ctx: Context) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    def check(v: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        if v["date"] > ctx.today + dt.timedelta(days=1):
            out.append(("date", f"{v['date']} is in the future"))
        if ("lon" in v) != ("lat" in v):
            out.append(("lat" if "lon" in v else "lon", "give both longitude and latitude, or neither"))
        if v.get("base") and R.norm(v["base"]).lower() not in ctx.bases:
            out.append(("base", f"no demonstration base named {v['base']!r}"))
        return out
    return check


RULES = {"training": training_rules, "roster": _roster_rules, "outreach": _outreach_rules}


def _identity(dataset: str, v: dict[str, Any]) -> str:
    if dataset == "training":
        if v.get("certificate"):
            return R.record_id(R.KIND_TRAINING, "cert", v["certificate"])
        return R.record_id(R.KIND_TRAINING, v["person"], v["unit"], v.get("course") or v["category"], v["date"])
    if dataset == "roster":
        return R.record_id(R.KIND_ROSTER, v["role"], v["person"], v["unit"])
    return R.record_id(R.KIND_OUTREACH, v["channel"], v["date"], v["place"], v["title"])


def _props(dataset: str, v: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(entity name, properties, geometry) of one row."""
    p = {k: (x.isoformat() if isinstance(x, dt.date) else x) for k, x in v.items()}
    if dataset == "training":
        p.setdefault("course", R.CATEGORIES[v["category"]][0])
        p["unit_id"] = ctx.enterprises.get(R.norm(v["unit"]).lower())
        return v["person"], p, None
    if dataset == "roster":
        p.setdefault("active", True)
        return v["person"], p, None
    geom = None
    if "lon" in v and "lat" in v:
        geom = {"type": "Point", "coordinates": [v["lon"], v["lat"]]}
    if v.get("base"):
        p["base_id"] = ctx.bases.get(R.norm(v["base"]).lower())
    return v["title"], p, geom


KIND_OF = {"training": R.KIND_TRAINING, "roster": R.KIND_ROSTER, "outreach": R.KIND_OUTREACH}
BOOKKEEPING = ("source_file", "imported_at", "imported_by", "demo")


def context(store: Store, today: dt.date | None = None, enterprise_kinds: tuple[str, ...] | None = None) -> Context:
    """Row rules' view of the twin: enterprises (``enterprise_kinds``, see ``kpis``) and bases by name and id."""
    from .kpis import ENTERPRISE_KINDS, enterprise_entities
    ents: dict[str, str] = {}
    for e in enterprise_entities(store, tuple(enterprise_kinds or ENTERPRISE_KINDS)):
        ents[R.norm(e.name).lower()] = e.id
        ents[e.id.lower()] = e.id
    bases: dict[str, str] = {}
    for b in store.entities(kind=R.KIND_BASE):
        bases[R.norm(b.name).lower()] = b.id
        bases[b.id.lower()] = b.id
    return Context(today or dt.date.today(), ents, bases)


def import_file(store: Store, data: bytes, filename: str, dataset: str, actor: str, *, max_bytes: int,
                max_rows: int = 20000, dry_run: bool = False, demo: bool = False,
                today: dt.date | None = None, enterprise_kinds: tuple[str, ...] | None = None) -> ImportResult:
    """Check ``data`` (a CSV or .xlsx file named ``filename``) as ``dataset`` rows and store them all, or
    raise :class:`ImportRefused` with every error and store nothing. Audited as ``safety_literacy.import``."""
    shown = re.sub(r"[\x00-\x1f\x7f]", "", filename.replace("\\", "/").rsplit("/", 1)[-1])[:120] or "upload"
    if dataset not in DATASETS:
        raise ImportRefused([f"{shown}: dataset must be one of {', '.join(DATASETS)}, not {dataset!r}"])
    try:
        table = read_table(data, shown, max_bytes=max_bytes, max_rows=max_rows)
    except TableError as exc:
        raise ImportRefused([str(exc)]) from None
    ctx = context(store, today, enterprise_kinds)
    parsed, errors, ignored = parse_rows(table, dataset, RULES[dataset](ctx))
    seen: dict[str, int] = {}
    for rownum, values in parsed:
        rid = _identity(dataset, values)
        if rid in seen:
            what = "certificate" if dataset == "training" and values.get("certificate") else "record"
            errors.append(f"{table.where(rownum)}: field '{'certificate' if what == 'certificate' else 'person'}': "
                          f"the same {what} as row {seen[rid]} of this file")
        else:
            seen[rid] = rownum
    if not parsed and not errors:
        errors.append(f"{shown}: no data rows under the header")
    if errors:
        raise ImportRefused(errors)
    kind = KIND_OF[dataset]
    existing = {e.id: e for e in store.entities(kind=kind, plugin=R.PLUGIN)}
    now = time.time()
    result = ImportResult(shown, dataset, len(parsed), ignored_columns=ignored, dry_run=dry_run)
    rows = []
    changes: dict[str, dict[str, list[Any]]] = {}
    for _, values in parsed:
        rid = _identity(dataset, values)
        name, props, geom = _props(dataset, values, ctx)
        old = existing.get(rid)
        if old is not None:
            before = {k: x for k, x in (old.properties or {}).items() if k not in BOOKKEEPING}
            if before == props and old.name == name and old.geometry == geom:
                result.unchanged += 1
                continue
            diff = {k: [before.get(k), props.get(k)] for k in set(before) | set(props) if before.get(k) != props.get(k)}
            changes[rid] = diff
            result.updated.append(rid)
            first = (old.properties or {}).get("imported_at", now)
        else:
            result.added.append(rid)
            first = now
        props.update(source_file=shown, imported_at=first, imported_by=actor, demo=demo)
        rows.append(R.entity_for(kind, rid, name, props, geom))
    if dry_run:
        return result
    digest = hashlib.sha256(data).hexdigest()
    audit = AuditEntry(actor=actor[:64], action=f"{R.PLUGIN}.import", target=f"file:{shown}"[:256], old=None,
                       new={**result.as_dict(), "sha256": digest, "added_ids": result.added[:200],
                            "changed": dict(list(changes.items())[:100])})
    store.upsert(rows, audit=audit)
    return result
