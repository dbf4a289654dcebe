"""The 3D park scene as a pydeck Deck: offline (map_provider=None), base map from the twin's GeoJSON.

Layers, bottom to top: water and land-use base, roads, fence; threat zones (yellow, orange,
red) from the live wind; enterprise plots; extruded buildings; pipe racks at their height;
tanks as a translucent shell plus a fill column (height × fill level) coloured by the worst
open alarm of the tank's sensors; gas detectors; hazard sources ringed in their grade colour;
facilities; sensitive targets coloured by the zone they are in; labels; the wind arrow.

Every picked row carries its entity's ``id`` (GeoJSON features in ``properties``), so a click on the
map names the entity; ``camera`` decides the view (a clicked entity, an alarm, or the park).
Rows keep a stable order between renders, so the host's live patches are row deltas.

Tanks are drawn larger than life (``tank_scale``, default 4×) so a 5 m tank is visible on a
3 km park; the tooltip gives the true size.
"""

from __future__ import annotations

import math
from typing import Any

import pydeck as pdk

from core.api import SEVERITY_COLORS, PanelContext, text_layer

from . import camera, plume
from .threat import Situation
from .twin import Item, ParkModel


def _rgba(hex_color: str, a: int = 230) -> list[int]:
    return [int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16), a]


SEV_RGBA = {int(s): _rgba(c) for s, c in SEVERITY_COLORS.items()}
GRADE_RGBA = {"一级": SEV_RGBA[1], "二级": SEV_RGBA[2], "三级": SEV_RGBA[3], "四级": SEV_RGBA[4]}
ZONE_RGBA = {"AEGL-3": [232, 54, 59, 110], "AEGL-2": [245, 133, 42, 90], "AEGL-1": [246, 211, 60, 70]}
ZONE_LINE = {"AEGL-3": [232, 54, 59, 255], "AEGL-2": [245, 133, 42, 255], "AEGL-1": [246, 211, 60, 255]}
NORMAL_FILL = [60, 200, 190, 235]
MODEL_ROUTE = "/plugins/chemical_park/models"
BASE_STYLE = {"sea": ([16, 52, 96, 200], [40, 110, 180, 160]), "river": ([16, 60, 110, 200], [40, 120, 190, 160]),
              "boundary": ([14, 40, 80, 90], [54, 198, 255, 255]), "zone": ([24, 70, 130, 60], [70, 140, 210, 150]),
              "enterprise": ([0, 0, 0, 0], [110, 170, 230, 120]), "hazmat_parking": ([150, 100, 30, 110], [245, 160, 60, 220]),
              "road": ([0, 0, 0, 0], [120, 140, 170, 200]), "fence": ([0, 0, 0, 0], [54, 230, 255, 255]),
              "loading_bay": ([150, 100, 30, 90], [245, 160, 60, 200]), "closed_zone": ([232, 54, 59, 60], [232, 54, 59, 255]),
              "hazmat_route": ([0, 0, 0, 0], [255, 176, 0, 200])}
FACILITY_RGBA = {"gate": [54, 198, 255, 255], "medical_station": [60, 220, 120, 255], "fire_station": [255, 80, 60, 255]}


def worst_alarm(ctx: PanelContext, alerts: list[Any] | None = None) -> dict[str, int]:
    """The most severe open alarm level per entity."""
    worst: dict[str, int] = {}
    for a in ctx.store.alerts(limit=10000) if alerts is None else alerts:
        worst[a.entity_id] = min(worst.get(a.entity_id, 9), int(a.severity))
    return worst


def tank_alarm(model: ParkModel, tank: Item, worst: dict[str, int]) -> int | None:
    levels = [worst[s.id] for s in model.sensors_of_tank(tank.id) if s.id in worst]
    return min(levels) if levels else None


def build(ctx: PanelContext, model: ParkModel, sit: Situation, latest: dict[tuple[str, str], Any]) -> pdk.Deck:
    lang = ctx.lang
    opts = ctx.options
    alerts = ctx.store.alerts(limit=10000)
    worst = worst_alarm(ctx, alerts)
    scale = float(opts.get("tank_scale", 4.0))
    zone_of = {a.item.id: a.level for a in sit.affected}

    base_feats = []
    for kind in ("sea", "river", "zone", "enterprise", "hazmat_parking", "loading_bay", "closed_zone", "boundary",
                 "road", "hazmat_route", "fence"):
        fill, line = BASE_STYLE[kind]
        for it in model.of(kind):
            if it.geometry:
                base_feats.append({"type": "Feature", "geometry": it.geometry,
                                   "properties": {"id": it.id, "name": it.label(lang),
                                                  "info": _kind_text(kind, lang),
                                                  "fill": fill, "line": line,
                                                  "width": 6 if kind in ("fence", "boundary", "hazmat_route") else 3}})
    layers: list[pdk.Layer] = [
        pdk.Layer("GeoJsonLayer", id="cp-base", data={"type": "FeatureCollection", "features": base_feats},
                  stroked=True, filled=True, get_fill_color="properties.fill", get_line_color="properties.line",
                  get_line_width="properties.width", line_width_min_pixels=1, pickable=True),
    ]
    # threat zones, yellow first so red is on top
    zones = [{"polygon": z.ring_lonlat, "name": f"{z.level} ≥ {z.loc_ppm:g} ppm",
              "info": _zone_info(z, sit, lang), "fill": ZONE_RGBA[z.level], "line": ZONE_LINE[z.level]}
             for z in reversed(sit.zones) if z.ring_lonlat]
    if zones:
        layers.append(pdk.Layer("PolygonLayer", id="cp-zones", data=zones, get_polygon="polygon",
                                get_fill_color="fill", get_line_color="line", line_width_min_pixels=2,
                                stroked=True, filled=True, pickable=True))
    tileset = next((m for m in model.of("scene_model") if m.props["format"] == "3dtiles"), None) \
        if opts.get("tileset", True) else None
    if tileset is not None:
        # the oblique-photography stand-in replaces the extruded footprints
        layers.append(pdk.Layer("Tile3DLayer", id="cp-oblique",
                                data=f"{MODEL_ROUTE}/{tileset.props['file'].split('models/', 1)[-1]}",
                                opacity=0.9, pickable=False))
    buildings = [{"id": b.id, "polygon": b.geometry["coordinates"][0], "height": float(b.props.get("height_m", 10)),
                  "name": b.label(lang), "info": f"{b.props.get('height_m')} m · {b.props.get('staff', 0)}"
                  + ctx.text("人", " people"),
                  "color": ZONE_RGBA.get(zone_of.get(b.id, ""), [70, 120, 190, 215])[:3] + [225]}
                 for b in model.of("building") if b.geometry]
    layers.append(pdk.Layer("PolygonLayer", id="cp-buildings", data=buildings, visible=tileset is None, get_polygon="polygon", extruded=True,
                            get_elevation="height", elevation_scale=1, get_fill_color="color",
                            get_line_color=[140, 200, 255], wireframe=True, pickable=True))
    racks = [{"id": r.id, "path": [c + [float(r.props.get("height_m", 7))] for c in r.geometry["coordinates"]],
              "name": r.label(lang), "info": ctx.text("管廊", "Pipe rack") + f" · {r.props.get('height_m')} m"}
             for r in model.of("pipe_rack") if r.geometry]
    layers.append(pdk.Layer("PathLayer", id="cp-racks", data=racks, get_path="path", get_width=8,
                            width_min_pixels=2, get_color=[170, 190, 215, 230], pickable=True))
    shells: dict[int, list[dict[str, Any]]] = {}
    fills: dict[int, list[dict[str, Any]]] = {}
    for t in model.of("tank"):
        p = t.props
        level = next((latest.get((s.id, "level_pct")) for s in model.sensors_of_tank(t.id)
                      if s.props["metric"] == "level_pct"), None)
        fill_pct = level.value if level is not None and math.isfinite(level.value) else None
        sev = tank_alarm(model, t, worst)
        sub = plume.substance(p["substance"])
        radius = max(p["diameter_m"] / 2 * scale, 12.0)
        height = p["height_m"] * scale
        static = f"{sub.name(lang)} · {p['capacity_m3']:g} m³ · Ø{p['diameter_m']:g} m × {p['height_m']:g} m"
        info = static + " · " + (f"{ctx.text('液位', 'level')} {fill_pct:.1f}%" if fill_pct is not None
                                 else ctx.text("液位无数据", "level: no data"))
        color = SEV_RGBA.get(sev, NORMAL_FILL) if sev is not None else NORMAL_FILL
        if sit.tank is not None and sit.tank.id == t.id:
            color = SEV_RGBA[1]
        row = {"id": t.id, "position": list(t.point), "name": t.label(lang)}
        r_key = round(radius / 2) * 2          # tanks grouped by radius: a ColumnLayer has one radius
        shells.setdefault(r_key, []).append({**row, "info": static, "height": height})
        fills.setdefault(r_key, []).append({**row, "info": info, "color": color,
                                            "height": max(height * (fill_pct if fill_pct is not None else 0) / 100.0, 0.5)})
    # tanks: a translucent shell (full height) around a fill column (height × level), coloured by alarm.
    # Geometry layers (shells) do not change between updates; fills carry the live state. With a glTF tank
    # model in the twin (and option models on), the shell is that model, loaded from the plugin's route.
    tank_model = next((m for m in model.of("scene_model") if m.props["format"] == "gltf"
                       and m.props.get("applies_to") == "tank"), None) if opts.get("models", True) else None
    for r_key in sorted(shells):
        layers.append(pdk.Layer("ColumnLayer", id=f"cp-tank-fill-{r_key}", data=fills[r_key],
                                get_position="position", radius=r_key * 0.88, disk_resolution=24,
                                get_elevation="height", get_fill_color="color", extruded=True, pickable=True))
        if tank_model is None:
            layers.append(pdk.Layer("ColumnLayer", id=f"cp-tank-shell-{r_key}", data=shells[r_key],
                                    get_position="position", radius=r_key, disk_resolution=24, get_elevation="height",
                                    get_fill_color=[200, 225, 255, 40], get_line_color=[200, 230, 255, 110],
                                    wireframe=True, extruded=True, pickable=True))
    if tank_model is not None:
        rows = [{**row, "scale": [float(r_key), row["height"], float(r_key)]}
                for r_key, group in shells.items() for row in group]
        # quoted: a literal URL, not an accessor (pydeck turns bare strings into accessors)
        layers.append(pdk.Layer("ScenegraphLayer", id="cp-tank-models", data=rows, get_position="position",
                                scenegraph=f"'{MODEL_ROUTE}/{tank_model.props['file'].split('models/', 1)[-1]}'",
                                get_scale="scale", get_orientation=[0, 0, 90], size_scale=1, opacity=0.35,
                                _lighting="'pbr'", pickable=True))
    dets = []
    for s in model.of("gas_detector"):
        lv = latest.get((s.id, s.props["metric"]))
        ok = lv is not None and math.isfinite(lv.value)
        frac = min(lv.value / s.props["hihi"], 3.0) if ok else 0.0
        sev = worst.get(s.id)
        dets.append({"id": s.id, "position": list(s.point), "height": 15 + 60 * frac, "name": s.label(lang),
                     "info": f"{lv.value:g} {s.props['unit']}" if ok else ctx.text("无数据", "no data"),
                     "color": SEV_RGBA.get(sev, [54, 198, 255, 230]) if ok else [120, 120, 120, 200]})
    layers.append(pdk.Layer("ColumnLayer", id="cp-detectors", data=dets, get_position="position", radius=9,
                            get_elevation="height", get_fill_color="color", extruded=True, pickable=True))
    hazards = [{"id": h.id, "position": list(h.point), "name": h.label(lang),
                "info": f"{ctx.text('重大危险源', 'Major hazard source')} {h.props['grade']} · R={h.props.get('r_value', '–')}",
                "color": GRADE_RGBA[h.props["grade"]]} for h in model.of("hazard_source")]
    layers.append(pdk.Layer("ScatterplotLayer", id="cp-hazards", data=hazards, get_position="position", get_radius=110,
                            filled=False, stroked=True, get_line_color="color", line_width_min_pixels=3, pickable=True))
    facilities = [{"id": f.id, "position": list(f.point), "name": f.label(lang), "info": _kind_text(f.kind, lang),
                   "color": FACILITY_RGBA[f.kind]} for f in model.of(*FACILITY_RGBA)]
    layers.append(pdk.Layer("ScatterplotLayer", id="cp-facilities", data=facilities, get_position="position",
                            get_radius=45, radius_min_pixels=5, get_fill_color="color", stroked=True,
                            get_line_color=[255, 255, 255, 255], line_width_min_pixels=1, pickable=True))
    vehicles = []
    for v in model.of("hazmat_vehicle"):
        lon_v, lat_v = latest.get((v.id, "lon")), latest.get((v.id, "lat"))
        if lon_v is None or lat_v is None or not (math.isfinite(lon_v.value) and math.isfinite(lat_v.value)):
            continue
        sp = latest.get((v.id, "speed_kmh"))
        sev = worst.get(v.id)
        vehicles.append({"id": v.id, "position": [lon_v.value, lat_v.value], "name": v.label(lang),
                         "info": f"{plume.substance(v.props['cargo']).name(lang)} · "
                         + (f"{sp.value:.0f} km/h" if sp is not None and math.isfinite(sp.value) else "–"),
                         "color": SEV_RGBA.get(sev, [255, 176, 0, 255])})
    if vehicles:
        layers.append(pdk.Layer("ScatterplotLayer", id="cp-vehicles", data=vehicles, get_position="position",
                                get_radius=30, radius_min_pixels=6, get_fill_color="color", stroked=True,
                                get_line_color=[20, 20, 20, 255], line_width_min_pixels=2, pickable=True))
    permit_rgba = {"作业中": [176, 112, 255, 255], "审批中": [120, 140, 200, 220], "已关闭": [90, 100, 120, 160]}
    ops = [{"id": p.id, "position": list(p.point), "name": p.label(lang),
            "info": f"{p.props.get('permit_type_zh', p.props['permit_type'])} · {p.props['state']}",
            "color": permit_rgba[p.props["state"]]} for p in model.of("work_permit") if p.point]
    ops += [{"id": h.id, "position": list(h.point), "name": h.label(lang),
             "info": f"{h.props['level']}隐患 · {h.props['state']} · {ctx.text('期限', 'due')} {h.props['deadline']}",
             "color": SEV_RGBA[2] if h.props["level"] == "重大" else SEV_RGBA[3]}
            for h in model.of("hidden_hazard") if h.point and h.props["state"] != "销号"]
    teams = [{"id": tm.id, "position": list(tm.point), "name": tm.label(lang),
              "info": f"{tm.props['members']}{ctx.text('人', ' people')} · {tm.props.get('materials', '')}",
              "color": [60, 220, 120, 255]} for tm in model.of("rescue_team") if tm.point]
    if ops or teams:
        layers.append(pdk.Layer("ScatterplotLayer", id="cp-operations", data=ops + teams, get_position="position",
                                get_radius=22, radius_min_pixels=4, get_fill_color="color", stroked=True,
                                get_line_color=[255, 255, 255, 200], line_width_min_pixels=1, pickable=True))
    targets = []
    for s in model.of("sensitive_target"):
        level = zone_of.get(s.id)
        targets.append({"id": s.id, "position": list(s.point), "name": s.label(lang),
                        "info": f"{s.props['population']}" + ctx.text("人", " people")
                        + (f" · {level}" if level else ""),
                        "color": ZONE_LINE[level] if level else [230, 120, 255, 255]})
    layers.append(pdk.Layer("ScatterplotLayer", id="cp-targets", data=targets, get_position="position", get_radius=90,
                            radius_min_pixels=6, get_fill_color="color", stroked=True,
                            get_line_color=[255, 255, 255, 255], line_width_min_pixels=2, pickable=True))
    labels = [{"position": t["position"], "text": t["name"], "color": [255, 255, 255, 255]} for t in targets]
    labels += [{"position": list(h.point), "text": h.props["grade"], "color": GRADE_RGBA[h.props["grade"]]}
               for h in model.of("hazard_source")]
    if opts.get("labels", True) and labels:
        # the host's TextLayer: the bundled Chinese font, loaded before drawing, and the labels' characters
        layers.append(text_layer("cp-labels", labels, color="color", size=16, offset=(0, -14), baseline="bottom"))
    if sit.plume is not None:
        p = sit.plume
        lon1, lat1 = p.to_lonlat(700.0, 0.0)
        la, lb = p.to_lonlat(560.0, 90.0), p.to_lonlat(560.0, -90.0)
        arrow = [{"path": [[p.lon, p.lat], [float(lon1), float(lat1)]]},
                 {"path": [[float(la[0]), float(la[1])], [float(lon1), float(lat1)], [float(lb[0]), float(lb[1])]]}]
        layers.append(pdk.Layer("PathLayer", id="cp-wind", data=arrow, get_path="path", get_width=14,
                                width_min_pixels=3, get_color=[255, 255, 255, 230]))
        layers.append(pdk.Layer("ScatterplotLayer", id="cp-source", data=[{
                                "id": sit.tank.id if sit.tank else None, "position": [p.lon, p.lat],
                                "name": sit.tank.label(lang) if sit.tank else "", "info": ctx.text("泄漏源", "Release")}],
                                get_position="position", get_radius=40, radius_min_pixels=8,
                                get_fill_color=[255, 40, 40, 255], stroked=True, get_line_color=[255, 255, 255],
                                line_width_min_pixels=2, pickable=True))
    plugin_alerts = [a for a in alerts if getattr(a, "plugin", ctx.plugin) == ctx.plugin]
    view = camera.view_state(camera.focus(model, sit, opts, plugin_alerts, getattr(ctx, "selection", None)), opts)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"html": "<b>{name}</b><br/>{info}",
                             "style": {"backgroundColor": "rgba(5,13,31,0.9)", "color": "#e6f1ff", "fontSize": "16px",
                                       "fontFamily": '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'}})


def _kind_text(kind: str, lang: str) -> str:
    zh = {"loading_bay": "装卸台", "closed_zone": "封闭区域(禁止驶入)", "hazmat_route": "危化品规划路线", "sea": "海域", "river": "河流", "zone": "功能分区", "enterprise": "企业", "hazmat_parking": "危化品车辆停车场",
          "boundary": "园区边界", "road": "道路", "fence": "封闭围栏", "gate": "门岗(门禁)", "medical_station": "医疗救护站",
          "fire_station": "消防站"}
    en = {"loading_bay": "Loading bay", "closed_zone": "Closed zone (no entry)", "hazmat_route": "Hazmat route",
          "sea": "Sea", "river": "River", "zone": "Functional zone", "enterprise": "Enterprise",
          "hazmat_parking": "Hazmat parking", "boundary": "Park boundary", "road": "Road", "fence": "Fence",
          "gate": "Gate", "medical_station": "Medical station", "fire_station": "Fire station"}
    return (en if lang == "en" else zh).get(kind, kind)


def _zone_info(z: plume.ThreatZone, sit: Situation, lang: str) -> str:
    people = sit.people_in(z.level)
    d = f"{z.distance_m:,.0f} m" + ("+" if z.capped else "")
    return f"{d} · " + (f"{people} people" if lang == "en" else f"约 {people} 人")
