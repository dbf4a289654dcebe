#!/usr/bin/env python3
"""Build the grid_patrol demo twin (网格化管理, DEMO data) on the real district (build-time only).

Reads the bundled base map (``twin_models/basemap``: 椒江区's land and the town seats), the flood twin's
street outlines and villages (``twin_models/flood_defence``) and the enterprise park's enterprises
(``twin_models/enterprise_park``), and writes ``twin_models/grid_patrol/grids.geojson``:

* ``grid`` polygons: each of the 8 mainland streets split into 4–5 grids (the Voronoi cells of the
  flood twin's villages in that street, plus evenly spread extra seeds, clipped to the street's land);
  大陈镇's islands in 2 grids. A grid's type is ``enterprise`` when a park enterprise lies in it,
  ``hillside`` when its village lies high (ground ≥ 20 m) or it is a hilly island grid, ``riverside``
  when it touches the coast or the estuary, else ``residential``;
* ``patrol_point`` points (the hazard points a worker visits, 4–5 per grid, by the grid's type; every
  park enterprise in a grid is one of them, with ``enterprise: <its id>``);
* ``patrol_route`` lines through each grid's points;
* ``grid_worker`` points (one per grid, at the grid's office), names anonymised (某某).

Everything is INVENTED for the demo except the geography. Deterministic (fixed seeds); run from the
repository root: ``python scripts/build_grid_patrol_twin.py`` (``--check``: exit 1 when the file would change).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import shapely
import yaml
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.geo.basemap import district_polygon, land_polygon, town_labels  # noqa: E402

TWIN = ROOT / "twin_models"
OUT = TWIN / "grid_patrol" / "grids.geojson"
#: street code → (zh, en, number of grids)
TOWNS = {
    "haimen": ("海门街道", "Haimen", 5), "baiyun": ("白云街道", "Baiyun", 4), "jiazhi": ("葭沚街道", "Jiazhi", 4),
    "hongjia": ("洪家街道", "Hongjia", 5), "xiachen": ("下陈街道", "Xiachen", 4), "qiansuo": ("前所街道", "Qiansuo", 4),
    "zhangan": ("章安街道", "Zhang'an", 4), "sanjia": ("三甲街道", "Sanjia", 4), "dachen": ("大陈镇", "Dachen", 2),
}
#: grid type → hazard points: (zh, en, category)
POINTS = {
    "enterprise": [("配电房", "Switch room", "electrical"), ("危化品暂存点", "Chemicals store", "hazmat"),
                   ("消防通道", "Fire lane", "escape"), ("员工宿舍", "Staff dormitory", "fire")],
    "residential": [("老旧住宅楼", "Old housing block", "building"), ("电动车集中充电点", "E-bike charging", "fire"),
                    ("沿街店铺(三合一场所)", "Shop-houses", "fire"), ("燃气瓶使用商户", "Gas cylinder users", "gas"),
                    ("地下车库", "Underground garage", "flood")],
    "hillside": [("滑坡隐患点", "Landslide spot", "geological"), ("山塘", "Hill pond", "flood"),
                 ("林区入山口", "Forest entrance", "fire"), ("削坡建房户", "Cut-slope houses", "geological")],
    "riverside": [("河道堤防", "River embankment", "flood"), ("低洼易涝点", "Low-lying spot", "flood"),
                  ("排涝闸站", "Drainage sluice", "flood"), ("临河简易房", "Riverside shacks", "building")],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
EVERY_H = {"enterprise": 24, "residential": 24, "hillside": 48, "riverside": 24}
KM_LON, KM_LAT = 111.32 * math.cos(math.radians(28.67)), 110.57


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * KM_LON, (a[1] - b[1]) * KM_LAT)


def rounded(geom, decimals: int = 5) -> dict:
    g = shapely.set_precision(geom, 10 ** -decimals)
    out = json.loads(json.dumps(mapping(g)))

    def rnd(c):
        return [round(c[0], decimals), round(c[1], decimals)] if isinstance(c[0], float) else [rnd(x) for x in c]
    out["coordinates"] = rnd(out["coordinates"])
    return out


def town_polygons() -> dict[str, Polygon | MultiPolygon]:
    """The 8 mainland streets from the flood twin's outlines, 大陈镇 from the district's islands near its seat."""
    land = land_polygon()
    base = json.loads((TWIN / "flood_defence" / "base.geojson").read_text(encoding="utf-8"))
    out = {}
    for f in base["features"]:
        p = f["properties"]
        if p.get("kind") == "town":
            out[p["id"].removeprefix("fd.town.")] = shape(f["geometry"]).intersection(land).buffer(0)
    seat = next(t for t in town_labels() if t["name_zh"] == "大陈")
    islands = [g for g in district_polygon().geoms if g.distance(Point(seat["lon"], seat["lat"])) < 0.08]
    out["dachen"] = shapely.union_all([g.intersection(land) for g in islands]).buffer(0)
    return out


def lattice(poly, step: float = 0.0025) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, step), np.arange(miny, maxy, step))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    inside = shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
    return pts[inside]


def seeds_for(poly, fixed: list[tuple[float, float]], k: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """``fixed`` seeds (the villages) plus extra ones spread by k-means over the street's land."""
    pts = lattice(poly)
    if len(pts) < 3 * k:
        pts = lattice(poly, 0.0006)
    scale = np.array([KM_LON, KM_LAT])
    n_extra = max(0, k - len(fixed))
    centres = np.array(fixed + [tuple(pts[i]) for i in rng.choice(len(pts), n_extra, replace=False)], dtype=float)
    for _ in range(40):
        d = (((pts[:, None, :] - centres[None, :, :]) * scale) ** 2).sum(-1)
        lab = d.argmin(1)
        for j in range(len(fixed), len(centres)):  # the villages stay where they are
            if (lab == j).any():
                centres[j] = pts[lab == j].mean(0)
    return [tuple(c) for c in centres[:k]]


def inner_points(poly, n: int, rng: np.random.Generator, avoid: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``n`` points well inside ``poly`` (≥ 80 m from its edge), spread out."""
    core = poly.buffer(-0.0008)
    if core.is_empty or core.area < poly.area * 0.1:
        core = poly.buffer(-0.0002)
    cand = lattice(core, 0.0007)
    if len(cand) == 0:
        cand = np.array([poly.representative_point().coords[0]])
    chosen = list(avoid)
    out = []
    for _ in range(n):
        if not chosen:
            i = int(rng.integers(len(cand)))
        else:
            d = np.min([np.hypot((cand[:, 0] - x) * KM_LON, (cand[:, 1] - y) * KM_LAT) for x, y in chosen], axis=0)
            best = np.argsort(-d)[: max(1, len(cand) // 6)]
            i = int(rng.choice(best))
        p = (round(float(cand[i][0]), 5), round(float(cand[i][1]), 5))
        out.append(p)
        chosen.append(p)
    return out


def route_order(start: tuple[float, float], pts: list[tuple[float, float]]) -> list[int]:
    left, order, here = list(range(len(pts))), [], start
    while left:
        j = min(left, key=lambda i: _km(here, pts[i]))
        order.append(j)
        left.remove(j)
        here = pts[j]
    return order


def build() -> str:
    rng = np.random.default_rng(15)
    towns = town_polygons()
    flood = yaml.safe_load((TWIN / "flood_defence" / "twin.yaml").read_text(encoding="utf-8"))
    villages = [e for e in flood["entities"] if e["kind"] == "village"]
    enterprises = []
    for f in sorted((TWIN / "enterprise_park" / "enterprises").glob("*.yaml")):
        for e in yaml.safe_load(f.read_text(encoding="utf-8"))["entities"]:
            if e["kind"] == "sme_enterprise":
                enterprises.append(e)
    coast = land_polygon().boundary
    feats: list[dict] = []
    worker_no = 0
    for code, (zh, en, k) in TOWNS.items():
        poly = towns[code]
        vs = [v for v in villages if v["properties"]["town"] == f"fd.town.{code}"]
        vs = [v for v in vs if poly.buffer(0.002).contains(Point(v["lon"], v["lat"]))][:k]
        seeds = seeds_for(poly, [(v["lon"], v["lat"]) for v in vs], k, rng)
        cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=poly.envelope.buffer(0.05))
        n_extra = 0
        grids = []
        for j, s in enumerate(seeds):
            cell = next(c for c in cells.geoms if c.contains(Point(s)) or c.touches(Point(s)))
            g = cell.intersection(poly).simplify(0.0002, preserve_topology=True).buffer(0)
            parts = [p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon) and p.area > 1e-6]
            if not parts:
                continue
            g = parts[0] if len(parts) == 1 else MultiPolygon(parts)
            grids.append((j, s, g))
        grids.sort(key=lambda t: (-t[1][1], t[1][0]))  # north to south, then west to east: stable numbers
        for n, (j, seed, g) in enumerate(grids, start=1):
            gid = f"gp.grid.{code}-{n}"
            village = vs[j] if j < len(vs) else None
            ents = [e for e in enterprises if g.buffer(0.0005).contains(Point(e["lon"], e["lat"]))]
            if ents:
                gtype = "enterprise"
            elif village is not None and float(village["properties"].get("ground_m", 0)) >= 20:
                gtype = "hillside"
            elif code == "dachen" and n == 2:
                gtype = "hillside"
            elif g.distance(coast) < 0.0015 or (village is not None and village["properties"].get("to_transfer", 0) >= 300):
                gtype = "riverside"
            else:
                gtype = "residential"
            if village is not None:
                vname, vname_en = village["name"], village.get("name_en", "")
            else:
                n_extra += 1
                vname, vname_en = f"第{n}网格", f"grid {n}"
            name = f"{zh}·{vname}" + ("" if vname.endswith("网格") else "网格")
            name_en = f"{en} · {vname_en}" if vname_en else f"{en} grid {n}"
            if village is not None:
                people = int(village["properties"].get("to_transfer", 0))
            else:
                people = int(rng.integers(2, 9)) * 10 if gtype in ("riverside", "residential") else int(rng.integers(0, 3)) * 10
            households = int(math.ceil(people / 2.6)) if people else 0
            office = inner_points(g, 1, rng, [])[0]
            pts: list[tuple[str, str, str, tuple[float, float], str | None]] = []
            for e in ents:
                pts.append((e["name"], e.get("name_en", ""), "hazmat" if e["properties"].get("hazardous_chemicals")
                            else "fire", (e["lon"], e["lat"]), e["id"]))
            kinds = POINTS[gtype]
            n_pts = max(4, len(pts) + 2) if gtype == "enterprise" else (4 if gtype != "residential" else 5)
            more = inner_points(g, n_pts - len(pts), rng, [office] + [p[3] for p in pts])
            for i, xy in enumerate(more):
                pz, pe, cat = kinds[i % len(kinds)]
                pts.append((pz, pe, cat, xy, None))
            order = route_order(office, [p[3] for p in pts])
            point_ids = []
            for no, i in enumerate(order, start=1):
                pz, pe, cat, xy, ent = pts[i]
                pid = f"gp.point.{code}-{n}-{no}"
                point_ids.append(pid)
                props = {"grid": gid, "no": no, "category": cat, "demo": True}
                if ent:
                    props["enterprise"] = ent
                feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
                              # "<n>号点·<kind>": a village name would name a town seat the point may lie far from
                              "properties": {"id": pid, "kind": "patrol_point", "name": f"{no}号点·{pz}" if not ent else pz,
                                             "name_en": f"P{no} {pe}" if not ent else pe, **props}})
            line = [office] + [pts[i][3] for i in order]
            feats.append({"type": "Feature", "geometry": rounded(LineString(line)),
                          "properties": {"id": f"gp.route.{code}-{n}", "kind": "patrol_route", "name": f"{vname}巡查路线",
                                         "name_en": f"{vname_en or name_en} patrol route", "grid": gid,
                                         "points": point_ids, "demo": True}})
            worker_no += 1
            wid = f"gp.worker.{code}-{n}"
            surname = SURNAMES[(worker_no * 7) % len(SURNAMES)]
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": list(office)},
                          "properties": {"id": wid, "kind": "grid_worker", "name": f"{surname}某某",
                                         "name_en": f"Worker {worker_no:02d}", "grid": gid,
                                         "phone": f"139****{2000 + worker_no:04d}", "demo": True}})
            props = {"id": gid, "kind": "grid", "name": name, "name_en": name_en, "town": code, "town_zh": zh,
                     "town_en": en, "grid_type": gtype, "workers": [wid], "points": point_ids,
                     "patrol_every_h": EVERY_H[gtype], "households_at_risk": households, "people_at_risk": people,
                     "office": list(office), "demo": True}
            if village is not None:
                props["flood_village"] = village["id"]
            feats.append({"type": "Feature", "geometry": rounded(g), "properties": props})
    doc = {"type": "FeatureCollection",
           "twinboard:note": "DEMO DATA (演示) made by scripts/build_grid_patrol_twin.py: grids, workers, hazard points "
                             "and routes are INVENTED on the real district's geography; persons anonymised.",
           "features": feats}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace('{"type":"Feature"', '\n{"type":"Feature"') + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file would change")
    args = ap.parse_args()
    text = build()
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} would change")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    n = text.count('"kind":"grid"')
    print(f"wrote {OUT.relative_to(ROOT)}: {n} grids")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
