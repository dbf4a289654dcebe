"""The plan's map: enterprises coloured by risk grade (a red ring when behind plan) and the enforcement units."""

from __future__ import annotations

import pydeck as pdk

from core.api import PanelContext

from . import grading
from .model import Task
from .snapshot import snapshot


_GRADE_RGBA = {"A": [232, 54, 59, 235], "B": [245, 133, 42, 235], "C": [246, 211, 60, 235], "D": [47, 140, 242, 235]}


def plan_map(ctx: PanelContext) -> pdk.Deck:
    """Enterprises under the plan coloured by risk grade (ring: behind plan), and the enforcement units."""
    s = snapshot(ctx)
    checks = s.checks
    grace = ctx.settings.overdue_grace_days
    by_ent: dict[str, list[Task]] = {}
    for t in checks:
        by_ent.setdefault(t.enterprise, []).append(t)
    dots = []
    for e in s.enterprises:
        if e.lon is None:
            continue
        mine = by_ent.get(e.id, [])
        done = sum(1 for t in mine if t.state == "done")
        late = sum(1 for t in mine if t.overdue_days(s.today, grace) > 0)
        zh, en, _ = grading.GRADE_TEXT[e.grade]
        dots.append({"position": [e.lon, e.lat], "color": _GRADE_RGBA[e.grade], "id": e.id,
                     "line": [232, 54, 59, 255] if late else [255, 255, 255, 200], "radius": 160 + 60 * len(mine),
                     "name": f"{e.name if ctx.lang == 'zh' else e.name_en} · {zh if ctx.lang == 'zh' else en}",
                     "info": ctx.text(f"计划 {len(mine)} 次 · 完成 {done} · 逾期 {late}",
                                      f"{len(mine)} planned · {done} done · {late} overdue")})
    unit_rows = [{"position": [u.lon, u.lat], "id": u.id, "name": u.name_en if ctx.lang == "en" else u.name,
                  "info": ctx.text(f"执法人员 {sum(1 for i in s.inspectors if i.unit == u.id and i.active)} 人",
                                   f"{sum(1 for i in s.inspectors if i.unit == u.id and i.active)} inspectors")}
                 for u in s.units if u.lon is not None and u.town != "dachen"]
    layers = [
        # units sit at their town's centre, under the base map's town name: a ring, named in the tooltip
        pdk.Layer("ScatterplotLayer", data=unit_rows, id="le-units", get_position="position", get_radius=420,
                  radius_min_pixels=9, radius_max_pixels=14, get_fill_color=[10, 30, 60, 120],
                  get_line_color=[54, 198, 255, 255], stroked=True, line_width_min_pixels=2, pickable=True),
        pdk.Layer("ScatterplotLayer", data=dots, id="le-enterprises", get_position="position", get_radius="radius",
                  radius_min_pixels=6, radius_max_pixels=16, get_fill_color="color", get_line_color="line",
                  stroked=True, line_width_min_pixels=2, pickable=True),
    ]
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", 121.435)), latitude=float(ctx.options.get("lat", 28.673)),
                         zoom=float(ctx.options.get("zoom", 11.0)), pitch=0)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}\n{info}"})
