"""Flood-defence panels of the inundation rehearsal: the flooded DEM in 3D and the scenarios compared."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pydeck as pdk
from dash import html

from core.api import PanelContext

from . import data, inundation
from .panels import TABLE, _empty, _name, _td

# -- inundation ------------------------------------------------------------------------------------------

def _scenario_key(ctx: PanelContext) -> str:
    keys = [s.key for s in data.scenarios()]
    key = str(ctx.options.get("scenario", keys[-1] if keys else ""))
    if key not in keys:
        raise ValueError(f"no rehearsal scenario {key!r}; scenarios.yaml has {keys}")
    return key


def _assessed(ctx: PanelContext, key: str) -> inundation.Result:
    res = data.rehearsal_for(key)
    if not res.affected.villages and not res.affected.risk_points and not res.affected.shelters_flooded:
        ents = ctx.store.entities(plugin=ctx.plugin)
        inundation.assess(data.dem(), res, [e for e in ents if e.kind == "village"],
                          [e for e in ents if e.kind == "risk_point"], [e for e in ents if e.kind == "shelter"])
    return res


#: depth colour ramp (m → RGB): shallow cyan, 1 m blue, 2 m and deeper violet
DEPTH_STOPS = ((0.0, (140, 235, 255)), (1.0, (40, 110, 235)), (2.0, (170, 50, 210)))


def depth_rgba(d: float) -> list[int]:
    for (d0, c0), (d1, c1) in zip(DEPTH_STOPS, DEPTH_STOPS[1:]):
        if d <= d1:
            f = max(d - d0, 0.0) / (d1 - d0)
            return [int(a + (b - a) * f) for a, b in zip(c0, c1)] + [220]
    return list(DEPTH_STOPS[-1][1]) + [220]


def _hillshade_png(dem: Any) -> str:
    from PIL import Image
    z = np.where(dem.valid, dem.z, np.nan).astype(float)
    gy, gx = np.gradient(np.nan_to_num(z, nan=0.0))
    shade = np.clip(0.6 + (gx * -0.7 + gy * 0.7) / 25.0, 0, 1)
    land = np.clip(np.nan_to_num(z, nan=0) / 300.0, 0, 1)
    rgb = np.stack([30 + 60 * land, 50 + 70 * land, 70 + 40 * land], -1) * shade[..., None]
    rgb[dem.water] = [12, 40, 90]
    alpha = np.where(dem.valid, 255, 0)
    img = np.dstack([np.clip(rgb, 0, 255), alpha]).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


_HILLSHADE: dict[int, str] = {}


def inundation3d(ctx: PanelContext) -> pdk.Deck:
    """Flood depth of a rehearsal scenario as 3D columns over the DEM's hillshade; villages and shelters hit."""
    key = _scenario_key(ctx)
    res = _assessed(ctx, key)
    dem = data.dem()
    factor = int(ctx.options.get("downsample", 2))
    depth = inundation.downsample_max(res.depth, factor)
    rr, cc = np.nonzero(depth >= inundation.FLOODED_M)
    cells = []
    for r, c in zip(rr.tolist(), cc.tolist()):
        d = float(depth[r, c])
        lon = dem.lon0 + (c + 0.5) * factor * dem.dlon
        lat = dem.lat0 - (r + 0.5) * factor * dem.dlat
        cells.append({"p": [round(lon, 5), round(lat, 5)], "d": round(d, 2), "c": depth_rgba(d)})
    dx, dy = dem.cell_size_m()
    hill = _HILLSHADE.get(id(dem))
    if hill is None:
        hill = _HILLSHADE.setdefault(id(dem), _hillshade_png(dem))
    aff = res.affected
    hit_v = {v["id"] for v in aff.villages}
    hit_s = {s["id"] for s in aff.shelters_flooded}
    ents = ctx.store.entities(plugin=ctx.plugin)
    marks = []
    for e in ents:
        if e.kind not in ("village", "shelter") or not e.geometry:
            continue
        hit = e.id in hit_v or e.id in hit_s
        col = ([255, 70, 70, 255] if hit else [255, 255, 255, 220]) if e.kind == "village" else \
              ([255, 70, 70, 255] if hit else [47, 208, 138, 255])
        marks.append({"position": e.geometry["coordinates"], "name": _name(ctx, e), "color": col})
    west, north = dem.lon0, dem.lat0
    east, south = west + dem.shape[1] * dem.dlon, north - dem.shape[0] * dem.dlat
    layers = [
        pdk.Layer("BitmapLayer", data=None, id="terrain", image=f"'{hill}'", bounds=[west, south, east, north], opacity=0.9),
        pdk.Layer("ColumnLayer", data=cells, id="depth", get_position="p", get_elevation="d", elevation_scale=float(ctx.options.get("elevation_scale", 500)),
                  radius=max(dx, dy) * factor * 0.72, disk_resolution=4, angle=45, extruded=True,
                  get_fill_color="c", pickable=True),
        pdk.Layer("ScatterplotLayer", data=marks, id="marks", get_position="position", get_fill_color="color",
                  radius_min_pixels=4, get_radius=120, pickable=True, stroked=True, get_line_color=[0, 0, 0],
                  line_width_min_pixels=1),
    ]
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", 121.47)), latitude=float(ctx.options.get("lat", 28.64)),
                         zoom=float(ctx.options.get("zoom", 10.3)), pitch=50, bearing=-15)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name} {d}"})


def rehearsal(ctx: PanelContext) -> Any:
    """The rehearsal scenarios side by side: flooded area, depth, villages, people, risk points, shelters."""
    results = [_assessed(ctx, s.key) for s in data.scenarios()]
    if not results:
        return _empty(ctx, "无预演方案", "No scenarios")
    rows = [
        (ctx.text("潮位 m", "Sea level m"), [f"{r.scenario.sea_level_m:.1f}" for r in results]),
        (ctx.text("雨量 mm", "Rain mm"), [f"{r.scenario.rain_mm:.0f}" for r in results]),
        (ctx.text("决口", "Breach"), [str(len(r.scenario.breaches)) if r.scenario.breaches else "–" for r in results]),
        (ctx.text("淹没 km²", "Flooded km²"), [f"{r.area_km2:.1f}" for r in results]),
        (ctx.text("最大水深 m", "Max depth m"), [f"{r.max_depth_m:.1f}" for r in results]),
        (ctx.text("受影响村社", "Villages"), [str(len(r.affected.villages)) for r in results]),
        (ctx.text("受影响人口", "People"), [f"{r.affected.people:,}" for r in results]),
        (ctx.text("风险点", "Risk points"), [str(len(r.affected.risk_points)) for r in results]),
        (ctx.text("安置点受淹", "Shelters hit"), [str(len(r.affected.shelters_flooded)) for r in results]),
    ]
    if any(r.nodata_cells for r in results):
        rows.append((ctx.text("无数据格", "No-data cells"), [str(r.nodata_cells) for r in results]))
    head = html.Tr([html.Th("")] + [html.Th(_name(ctx, {"name": r.scenario.short or r.scenario.name,
                                                        "name_en": r.scenario.short_en or r.scenario.name_en}),
                                            title=_name(ctx, {"name": r.scenario.name, "name_en": r.scenario.name_en}),
                                            style={"fontSize": "16px", "fontWeight": 400, "color": "#8fb3da", "lineHeight": "19px",
                                                   "textAlign": "right", "verticalAlign": "bottom", "padding": "0 4px"}) for r in results])
    body = [html.Tr([_td(k, color="#8fb3da", whiteSpace="nowrap")] + [_td(v, textAlign="right") for v in vals])
            for k, vals in rows]
    sel = results[[r.scenario.key for r in results].index(_scenario_key(ctx))]
    top = ", ".join(f"{_name(ctx, v)} {v['people']}" for v in sel.affected.villages[:4])
    shel = ", ".join(_name(ctx, s) for s in sel.affected.shelters_flooded[:3])
    foot = html.Div([html.Div(ctx.text("重点村社: ", "Worst hit: ") + (top or "–")),
                     html.Div(ctx.text("受淹安置点: ", "Shelters flooded: ") + (shel or ctx.text("无", "none")))],
                    style={"fontSize": "16px", "color": "#e6f1ff", "marginTop": "4px"})
    return html.Div([html.Table([html.Thead(head), html.Tbody(body)], style={**TABLE, "fontSize": "16px"}), foot])


