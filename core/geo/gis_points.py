"""Places, shelters and resources of a GIS import (part of :mod:`core.geo.gis_import`): their entities.

Each feature of a point layer becomes a twin entity ``gis.<layer>.<id>`` (``plugin="gis"``): its
name (required), English name, id (an id field, else its index in the file), kind (shelters:
``emergency_shelter``; resources: :data:`RESOURCE_KINDS`; places: :data:`PLACE_KINDS` or the
``kind`` word itself), a shelter's capacity, and its attributes as properties.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import numpy as np
import shapely

from core.geo.gis_fields import (CAPACITY_FIELDS, ID_FIELDS, KIND_FIELDS, NAME_EN_FIELDS, NAME_FIELDS, field_number,
                                 field_text, find_field)
from core.geo.gis_store import ENTITY_PLUGIN
from core.geo.readers import GisImportError, VectorData

#: Entity kinds a ``resources`` file may name (as they are, or in Chinese).
RESOURCE_KINDS: dict[str, str] = {
    "emergency_team": "emergency_team", "micro_station": "micro_station",
    "fire_rescue_station": "fire_rescue_station", "fire_station": "fire_rescue_station",
    "material_depot": "material_depot", "medical_point": "medical_point", "emergency_shelter": "emergency_shelter",
    "key_camera": "key_camera",
    "消防站": "fire_rescue_station", "消防救援站": "fire_rescue_station", "微型消防站": "micro_station",
    "微型救援站": "micro_station", "救援队": "emergency_team", "救援队伍": "emergency_team",
    "专业救援队伍": "emergency_team", "应急救援队": "emergency_team", "物资库": "material_depot",
    "物资储备库": "material_depot", "应急物资库": "material_depot", "仓库": "material_depot",
    "医院": "medical_point", "医疗点": "medical_point", "医疗救治点": "medical_point", "急救站": "medical_point",
    "卫生院": "medical_point", "避难场所": "emergency_shelter", "应急避难场所": "emergency_shelter",
    "监控": "key_camera", "摄像头": "key_camera", "重点监控": "key_camera",
}
#: OpenStreetMap amenity/emergency values that are emergency resources, to entity kinds.
OSM_RESOURCE_KINDS = {"fire_station": "fire_rescue_station", "hospital": "medical_point", "clinic": "medical_point",
                      "ambulance_station": "medical_point", "emergency_ward": "medical_point"}
#: Chinese place types to entity kinds; other ``kind`` words (a-z, 0-9, _) are taken as they are.
PLACE_KINDS = {"村": "village", "村庄": "village", "行政村": "village", "自然村": "village", "社区": "community",
               "学校": "school", "医院": "hospital", "企业": "enterprise", "风险点": "risk_point",
               "危险源": "hazard_source", "重大危险源": "hazard_source"}
_WORD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def point_entities(data: VectorData, sel: np.ndarray, layer: str, points: np.ndarray, props: list[str], err: Any,
                   warnings: list[str], display: str):
    """(kind per feature, entity rows, summary) of the features ``sel`` of a point layer, placed at
    ``points`` (WGS-84) with ``props`` (JSON texts); appends warnings; ``err(i, message, field)``
    makes the error for feature ``i``."""
    n = len(sel)
    name_col = find_field(data, NAME_FIELDS)
    if name_col is None:
        raise GisImportError(display, f"has no name field (one of: {', '.join(NAME_FIELDS[:4])}): "
                                      f"every one of the {layer} needs a name")
    fname, names_raw = name_col
    names = [field_text(v) for v in names_raw[sel]]
    for i, nm in enumerate(names):
        if not nm:
            raise err(i, f"is empty: every one of the {layer} needs a name", fname)
    en_col = find_field(data, NAME_EN_FIELDS)
    names_en = [field_text(v) for v in en_col[1][sel]] if en_col else [""] * n
    id_col = find_field(data, ID_FIELDS)
    keys: list[str] = []
    if id_col is not None:
        seen: dict[str, int] = {}
        for i, v in enumerate(id_col[1][sel].tolist()):
            key = field_text(v)
            if not key:
                raise err(i, "is empty: give every feature an id, or leave the field out", id_col[0])
            if len(key) > 96:
                raise err(i, f"{key[:20]!r}... is longer than 96 characters", id_col[0])
            if key in seen:
                raise err(i, f"{key!r} repeats feature {int(sel[seen[key]])}", id_col[0])
            seen[key] = i
            keys.append(key)
    else:
        keys = [str(int(j)) for j in sel]
    kind_col = find_field(data, KIND_FIELDS)
    kinds: list[str] = []
    if layer == "shelters":
        kinds = ["emergency_shelter"] * n
    elif layer == "resources":
        if kind_col is None:
            kinds = ["material_depot"] * n
            warnings.append("no kind/类型 field: every resource imported as material_depot (give a kind: "
                            + ", ".join(sorted({v for v in RESOURCE_KINDS.values()})) + ")")
        else:
            for i, v in enumerate(kind_col[1][sel].tolist()):
                t = field_text(v)
                k = RESOURCE_KINDS.get(t) or RESOURCE_KINDS.get(t.lower())
                if k is None:
                    raise err(i, f"{t!r} is not a resource kind (one of: "
                                 + ", ".join(sorted(set(RESOURCE_KINDS.values()))) + ", or 消防站, 物资库, 救援队伍, "
                                 "医疗点...)", kind_col[0])
                kinds.append(k)
    else:
        for v in (kind_col[1][sel].tolist() if kind_col else [None] * n):
            t = field_text(v)
            kinds.append(PLACE_KINDS.get(t) or (t.lower() if _WORD.match(t.lower()) else "place"))
    capacity: list[int | None] = [None] * n
    if layer == "shelters":
        cap_col = find_field(data, CAPACITY_FIELDS)
        if cap_col is None:
            warnings.append(f"no capacity field (one of: {', '.join(CAPACITY_FIELDS[:3])}): shelters imported "
                            "without capacity")
        else:
            for i, v in enumerate(cap_col[1][sel].tolist()):
                try:
                    f = field_number(v)
                except ValueError:
                    raise err(i, f"{v!r} is not a number of people", cap_col[0]) from None
                if f is None:
                    continue
                if f < 0 or not math.isfinite(f):
                    raise err(i, f"{f:g} people: a capacity must be 0 or more", cap_col[0])
                capacity[i] = int(round(f))
    xy = shapely.get_coordinates(points)
    entities = []
    counts: dict[str, int] = {}
    for i in range(n):
        p = json.loads(props[i])
        p.update(gis_layer=layer, gis_index=int(sel[i]))
        if capacity[i] is not None:
            p["capacity"] = capacity[i]
        entities.append({"id": f"gis.{layer}.{keys[i]}", "site_id": None, "kind": kinds[i], "name": names[i],
                         "name_en": names_en[i], "plugin": ENTITY_PLUGIN,
                         "geometry": {"type": "Point", "coordinates": [round(float(xy[i, 0]), 7),
                                                                       round(float(xy[i, 1]), 7)]},
                         "properties": p, "updated_at": time.time()})
        counts[kinds[i]] = counts.get(kinds[i], 0) + 1
    summary = {"entities": n, "kinds": counts, "id_field": id_col[0] if id_col else None,
               "name_field": fname}
    if layer == "shelters":
        summary["capacity"] = int(sum(c for c in capacity if c))
    return kinds, entities, summary
