#!/usr/bin/env python3
"""Rebuild the demo twins' derived geometry from the bundled base map (build-time only).

The built-in plugins' demo twins sit on the real district (issue 14): their hand-placed entities
(stations, villages, parks...) are edited in their YAML files; the geometry *derived* from the real
coast is made here, reproducibly, from ``twin_models/basemap/`` (GSHHS land, 椒江区's boundary and
the town seats, see its NOTICE.md) and written into the twins' files:

* ``flood_defence/base.geojson``: the 8 mainland streets' outlines (a sketch: the Voronoi cells of
  each street's seat and of the flood twin's villages, shelters, risk points and rain gauges of that
  street, per river bank, clipped to the bank's land; label at the base map's seat), the Jiao river's
  centreline (midway between the banks), the sketch rivers 洪家场浦 and 葭沚泾 ending at the shore, the
  east sea wall along the GSHHS coast of 三甲/下陈, and the sea (open water within ~700 m of the
  district, the estuary included). The streets' five-nets figures and other properties are kept.
* ``flood_defence/twin.yaml``: ``ground_m`` of every entity that has it, sampled from the DEM
  (``plugins/flood_defence/dem.py``; regenerate the DEM first: ``python plugins/flood_defence/dem.py``).
* ``flood_defence/coast_sketch.geojson``: the mainland sketch's coast between 28.35°N and 28.9°N
  replaced by the GSHHS coast simplified to ~1 km (the rest of the sketch is unchanged).
* ``chemical_park/park.geojson``: the river and sea context polygons (cp.river, cp.sea) around
  the park: the open water of GSHHS within ~700 m of the district.
* ``enterprise_park/parks.yaml``: the context line of the river (the centreline above).

Run from the repository root: ``python scripts/build_demo_geography.py``. Idempotent; never run by
the app. ``--check`` writes nothing and exits 1 when a file would change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import shapely
import yaml
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.geo.basemap import district_polygon, land_polygon, town_labels  # noqa: E402
from core.plugins.manager import import_plugin_submodule  # noqa: E402

TWIN = ROOT / "twin_models"
#: the streets of each bank (the Dachen islands, 大陈镇, are not in the flood twin)
NORTH = ("zhangan", "qiansuo")
SOUTH = ("haimen", "jiazhi", "baiyun", "hongjia", "xiachen", "sanjia")
#: open water west of this line (south-bank corner at 三甲 → north-bank coast) is the estuary
MOUTH = ((121.507, 28.655), (121.532, 28.705))


def banks() -> dict[str, Polygon]:
    """The mainland district's land on each side of the estuary (the two largest pieces)."""
    mainland = max(district_polygon().geoms, key=lambda g: g.area)
    land = land_polygon().intersection(mainland)
    north, south = sorted(sorted(land.geoms, key=lambda g: -g.area)[:2], key=lambda g: -g.centroid.y)
    return {"north": north, "south": south}


def centreline() -> list[list[float]]:
    """The Jiao river's centreline: midway between the banks every 0.01° from the district's west edge
    to the mouth, then out to the bay."""
    b = banks()
    pts = [[121.352, 28.6995]]
    for lon in np.arange(121.36, 121.505, 0.01):
        cut = LineString([(lon, 28.6), (lon, 28.76)])
        s_top = max(c[1] for c in shapely.get_coordinates(b["south"].intersection(cut)) if c[1] < 28.72)
        n_bot = min(c[1] for c in shapely.get_coordinates(b["north"].intersection(cut)) if c[1] > s_top)
        pts.append([round(float(lon), 3), round((s_top + n_bot) / 2, 4)])
    return pts + [[121.51, 28.679], [121.525, 28.677]]


def water_near_district(buffer_deg: float = 0.007) -> Polygon | MultiPolygon:
    mainland = max(district_polygon().geoms, key=lambda g: g.area)
    return mainland.buffer(buffer_deg).difference(land_polygon())


def rounded(geom, decimals: int = 5) -> dict:
    """GeoJSON geometry with rounded coordinates (rings closed, no repeated points)."""
    g = shapely.set_precision(geom, 10 ** -decimals)
    out = json.loads(json.dumps(mapping(g)))

    def rnd(c):
        return [round(c[0], decimals), round(c[1], decimals)] if isinstance(c[0], float) else [rnd(x) for x in c]
    out["coordinates"] = rnd(out["coordinates"])
    return out


def largest_polygon(g) -> Polygon:
    parts = [p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon)]
    return max(parts, key=lambda p: p.area)


# -- flood_defence -------------------------------------------------------------------------------------
def town_outlines(twin: dict) -> dict[str, Polygon | MultiPolygon]:
    seats = {t["name_en"].lower().replace("'", ""): (t["lon"], t["lat"]) for t in town_labels()}
    b = banks()
    outlines = {}
    for side, towns in (("north", NORTH), ("south", SOUTH)):
        seeds: list[tuple[Point, str]] = [(Point(seats[t]), t) for t in towns]
        for e in twin["entities"]:
            town = str((e.get("properties") or {}).get("town", "")).removeprefix("fd.town.")
            if town in towns and "lon" in e:
                pt = Point(e["lon"], e["lat"])
                if b[side].distance(pt) > 0.003:
                    raise SystemExit(f"{e['id']} ({town}) is not on the {side} bank")
                seeds.append((pt, town))
        cells = shapely.voronoi_polygons(shapely.MultiPoint([p for p, _ in seeds]),
                                         extend_to=b[side].envelope.buffer(0.1))
        per_town: dict[str, list] = {t: [] for t in towns}
        for cell in cells.geoms:
            owner = next(t for p, t in seeds if cell.contains(p) or cell.touches(p))
            per_town[owner].append(cell)
        for t in towns:
            g = shapely.union_all(per_town[t]).intersection(b[side]).simplify(0.0004, preserve_topology=True)
            parts = [p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon) and p.area > 2e-6]
            outlines[t] = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    return outlines


def coast_east() -> list[list[float]]:
    """The GSHHS coast of the south bank facing the sea (三甲, 下陈), from the district's south edge to
    the estuary's corner at 三甲: the sea wall's line."""
    south = banks()["south"]
    border = max(district_polygon().geoms, key=lambda g: g.area).exterior
    ring = shapely.get_coordinates(south.exterior)[:-1]
    keep = [x > 121.49 and y <= 28.662 and border.distance(Point(x, y)) > 5e-4 for x, y in ring]
    runs, cur = [], []
    for k in range(2 * len(ring)):                       # twice round: a run may wrap past the start
        if keep[k % len(ring)] and len(cur) < len(ring):
            cur.append(ring[k % len(ring)])
        else:
            runs.append(cur)
            cur = []
    run = max(runs + [cur], key=len)
    pts = shapely.get_coordinates(LineString(run).simplify(0.0004))
    if pts[0][1] > pts[-1][1]:
        pts = pts[::-1]
    return [[round(float(x), 5), round(float(y), 5)] for x, y in pts]


def build_flood_base(dem) -> str:
    path = TWIN / "flood_defence" / "base.geojson"
    fc = json.loads(path.read_text(encoding="utf-8"))
    twin = yaml.safe_load((TWIN / "flood_defence" / "twin.yaml").read_text(encoding="utf-8"))
    outlines = town_outlines(twin)
    seats = {t["name_en"].lower().replace("'", ""): (t["lon"], t["lat"]) for t in town_labels()}
    river = centreline()
    for f in fc["features"]:
        p = f["properties"]
        fid = p["id"]
        if p["kind"] == "town":
            t = fid.removeprefix("fd.town.")
            f["geometry"] = rounded(outlines[t])
            p["label_lon"], p["label_lat"] = seats[t]
        elif fid == "fd.river.jiao":
            f["geometry"] = {"type": "LineString", "coordinates": river}
            p["coastal"] = True
        elif fid == "fd.river.hongjia":   # 洪家场浦: west → east across the south bank to the sea
            f["geometry"] = {"type": "LineString", "coordinates": [
                [121.362, 28.604], [121.38, 28.61], [121.4, 28.615], [121.43, 28.62], [121.46, 28.625],
                [121.49, 28.63], [121.513, 28.634]]}
        elif fid == "fd.river.jiazhi":    # 葭沚泾: south → north to the 葭沚 sluice on the estuary
            f["geometry"] = {"type": "LineString", "coordinates": [
                [121.4, 28.625], [121.4, 28.65], [121.395, 28.67], [121.392, 28.688]]}
        elif fid == "fd.seawall.east":
            f["geometry"] = {"type": "LineString", "coordinates": coast_east()}
            p["coastal"] = True
        elif fid == "fd.sea":
            f["geometry"] = rounded(largest_polygon(water_near_district()).simplify(0.0005), 5)
            p["coastal"] = True
            p["source"] = "GSHHS (twin_models/basemap), the estuary included"
    return json.dumps(fc, ensure_ascii=False) + "\n"


def build_ground_levels(dem) -> str:
    """twin.yaml with each ``ground_m`` replaced by the DEM's height at the entity (2 decimals)."""
    path = TWIN / "flood_defence" / "twin.yaml"
    text = path.read_text(encoding="utf-8")
    out, pos = [], 0
    for m in re.finditer(r"(?m)^- id: (\S+)\n(?:(?!^- ).*\n)*?  lon: ([0-9.]+)\n  lat: ([0-9.]+)\n(?:(?!^- ).*\n)*?"
                         r"  properties: \{.*?ground_m: ([-0-9.]+)", text):
        rc = dem.cell(float(m.group(2)), float(m.group(3)))
        if rc is None:
            raise SystemExit(f"{m.group(1)} is outside the DEM")
        z = float(dem.z[rc])
        out.append(text[pos:m.start(4)] + f"{z:.2f}")
        pos = m.end(4)
    return "".join(out) + text[pos:]


def build_coast_sketch() -> str:
    path = TWIN / "flood_defence" / "coast_sketch.geojson"
    fc = json.loads(path.read_text(encoding="utf-8"))
    feat = next(f for f in fc["features"] if f["properties"]["id"] == "fd.land.mainland")
    ring = feat["geometry"]["coordinates"][0]
    south, north = 28.35, 28.9
    # the GSHHS mainland coast inside the base map's box, south → north, simplified to ~1 km
    mainland = max(land_polygon().geoms, key=lambda g: g.area)
    coast = mainland.exterior.difference(box(121.15, south, 122.05, north).exterior.buffer(1e-6))
    seg = max(getattr(coast, "geoms", [coast]), key=lambda g: g.length)
    pts = [list(c) for c in shapely.get_coordinates(seg.simplify(0.01))]
    if pts[0][1] > pts[-1][1]:
        pts.reverse()
    pts = [[round(x, 3), round(y, 3)] for x, y in pts]
    # the sketch runs anticlockwise along the coast from the south-west: replace its points in the band
    i = next(k for k, c in enumerate(ring) if c[1] >= south and c[0] > 120.5)
    j = next(k for k in range(i, len(ring)) if ring[k][1] > north)
    feat["geometry"]["coordinates"][0] = ring[:i] + pts + ring[j:]
    return json.dumps(fc, ensure_ascii=False) + "\n"


# -- chemical_park and enterprise_park context -----------------------------------------------------------
def build_chem_context() -> str:
    path = TWIN / "chemical_park" / "park.geojson"
    text = path.read_text(encoding="utf-8")
    water = box(121.435, 28.62, 121.55, 28.695).intersection(water_near_district())
    river_zone = Polygon([(121.435, 28.655), (121.509, 28.655), (121.525, 28.695), (121.435, 28.695)])
    for fid, g in (("cp.river", water.intersection(river_zone)), ("cp.sea", water.difference(river_zone))):
        g = largest_polygon(g.simplify(0.00015, preserve_topology=True))
        ring = [[round(x, 6), round(y, 6)] for x, y in shapely.get_coordinates(g.exterior)]
        gj = {"type": "Polygon", "coordinates": [ring]}
        i = text.index(f'"id": "{fid}"')
        j = text.index('"geometry":', i)
        k = text.index("\n", j)
        text = text[:j] + '"geometry": ' + json.dumps(gj)[:-1].rstrip() + text[k:]
    json.loads(text)
    return text


def build_enterprise_context() -> str:
    path = TWIN / "enterprise_park" / "parks.yaml"
    text = path.read_text(encoding="utf-8")
    pts = centreline()
    rows = [", ".join(f"[{x}, {y}]" for x, y in pts[i:i + 5]) for i in range(0, len(pts), 5)]
    geom = "  geometry: {type: LineString, coordinates: [" + ",\n      ".join(rows) + "]}\n"
    i = text.index("- id: ep.context.jiaojiang_river\n")
    j = text.index("  geometry: {type: LineString", i)
    k = text.index("]]}\n", j) + 4
    return text[:j] + geom + text[k:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    a = ap.parse_args()
    dem = import_plugin_submodule(ROOT / "plugins" / "flood_defence", "dem").load_dem(
        TWIN / "flood_defence" / "dem_demo.npz")
    outputs = {
        TWIN / "flood_defence" / "base.geojson": build_flood_base(dem),
        TWIN / "flood_defence" / "twin.yaml": build_ground_levels(dem),
        TWIN / "flood_defence" / "coast_sketch.geojson": build_coast_sketch(),
        TWIN / "chemical_park" / "park.geojson": build_chem_context(),
        TWIN / "enterprise_park" / "parks.yaml": build_enterprise_context(),
    }
    stale = []
    for path, text in outputs.items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT))
            if not a.check:
                path.write_text(text, encoding="utf-8")
    for p in stale:
        print(("stale: " if a.check else "written: ") + str(p))
    return 1 if a.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
