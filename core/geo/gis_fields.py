"""The attribute columns of an imported vector file (part of :mod:`core.geo.gis_import`).

Which column plays which part (name, id, kind, capacity, speed, road class, one-way: the first of
a list of field names, compared in lower case), a field value as text or as a number, and each
feature's attributes as the JSON text stored in ``gis_feature.properties``.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any

import numpy as np

from core.geo.readers import VectorData

# Field names the import looks for, in order (compared in lower case).
NAME_FIELDS = ("name", "name_zh", "名称", "mc", "dlmc", "road_name", "roadname", "title", "场所名称")
NAME_EN_FIELDS = ("name_en", "ename", "英文名", "英文名称")
ID_FIELDS = ("id", "code", "编号", "编码", "bh", "代码", "dm", "uid", "osm_id")
KIND_FIELDS = ("kind", "type", "类型", "类别", "lx", "lb")
CAPACITY_FIELDS = ("capacity", "容纳人数", "可容纳人数", "rnrs", "people", "人数")
SPEED_FIELDS = ("speed_kmh", "speed_km_h", "speedkmh", "速度", "通行速度", "行车速度")
MAXSPEED_FIELDS = ("maxspeed", "max_speed", "限速")
CLASS_FIELDS = ("highway", "fclass", "road_class", "roadclass", "class", "道路等级", "公路等级", "等级", "dldj", "gldj")
ONEWAY_FIELDS = ("oneway", "one_way", "单行", "单向")


def find_field(data: VectorData, candidates: tuple[str, ...]) -> tuple[str, np.ndarray] | None:
    """(the field's name as the file spells it, its column) of the first of ``candidates`` the file
    has (compared in lower case), or None."""
    lower = {n.lower(): (n, c) for n, c in reversed(list(zip(data.field_names, data.fields)))}
    for cand in candidates:
        hit = lower.get(cand.lower())
        if hit is not None:
            return hit
    return None


def field_text(v: Any) -> str:
    """A field value as text: "" for null and NaN, whole floats without ".0", stripped."""
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def field_number(v: Any) -> float | None:
    """A float from a field value; None for null/empty; ValueError for text that is no number."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        raise ValueError
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return None if math.isnan(f) else f
    text = str(v).strip()
    if not text:
        return None
    return float(text.replace(",", ""))


def mapped(col: np.ndarray, fn: Any) -> list[Any]:
    """``fn`` of every value of a column, computed once per distinct value."""
    values = col.tolist()
    try:
        memo = {v: fn(v) for v in set(values)}
    except TypeError:  # an unhashable value
        return [fn(v) for v in values]
    return [memo[v] for v in values]


def _json_fragments(name: str, col: np.ndarray) -> list[str]:
    """``,"name":value`` per feature (an empty string for null), built a column at a time."""
    key = "," + encode_basestring(name) + ":"
    kind = col.dtype.kind
    if kind == "f":
        finite = np.isfinite(col).tolist()
        return [key + repr(v) if ok else "" for v, ok in zip(col.tolist(), finite)]
    if kind in "iu":
        return [key + str(v) for v in col.tolist()]
    if kind == "b":
        return [key + ("true" if v else "false") for v in col.tolist()]
    if kind in "US":
        col = col.astype(object)
    out = []
    for v in col.tolist():
        t = type(v)
        if t is str:
            out.append(key + encode_basestring(v))
        elif v is None:
            out.append("")
        elif t is bool:
            out.append(key + ("true" if v else "false"))
        elif t is int:
            out.append(key + str(v))
        elif t is float:
            out.append(key + repr(v) if math.isfinite(v) else "")
        elif isinstance(v, (bytes, bytearray)):
            out.append("")
        else:
            out.append(key + json.dumps(v, ensure_ascii=False, default=str))
    return out


def properties_json(data: VectorData, sel: np.ndarray, skip: Any = ()) -> list[str]:
    """Each feature's attributes as a JSON object text (nulls and the ``skip`` fields left out)."""
    whole = len(sel) == len(data)
    cols = [_json_fragments(n, c if whole else c[sel]) for n, c in zip(data.field_names, data.fields)
            if n not in skip]
    if not cols:
        return ["{}"] * len(sel)
    return ["{" + r[1:] + "}" for r in map("".join, zip(*cols))]
