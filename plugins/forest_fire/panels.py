"""Panels: figures (coverage), camera wall, smoke alerts with human review, 3D map, smoke-score strip."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pydeck as pdk
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext

from .cameras import Camera, cameras_from_entities, coverage, destination, intersect_bearings, view_cone
from .source import METRIC, RULE_ID, STATE, VAR_DIR, frame_url

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
STATE_COLORS = {"online": "#3ddc84", "stale": "#f6d33c", "offline": "#8a96a8", "starting": "#9ad7ff"}
STATE_TEXT = {"online": ("在线", "online"), "stale": ("画面冻结", "stale"), "offline": ("离线", "offline"),
              "starting": ("连接中", "starting")}
REVIEW_TEXT = {"pending": ("待复核", "to review"), "confirmed": ("已确认火情", "confirmed"),
               "dismissed": ("已排除误报", "dismissed")}
REVIEWS_FILE = VAR_DIR / "reviews.json"
_reviews_lock = threading.Lock()
_cov_cache: dict[str, dict[str, float]] = {}


# ------------------------------------------------------------------------------- helpers
def cameras(ctx: PanelContext) -> list[Camera]:
    return cameras_from_entities(ctx.store.entities(kind="camera"), getattr(ctx.settings, "default_interval_s", 5.0))


def forests(ctx: PanelContext) -> list[Any]:
    return [e for e in ctx.store.entities(kind="forest") if e.geometry]


def lookout_coverage(ctx: PanelContext) -> dict[str, float]:
    cams, fs = cameras(ctx), forests(ctx)
    key = json.dumps([[c.id, c.lon, c.lat, c.bearing_deg, c.fov_deg, c.range_m] for c in cams]
                     + [[f.id, f.geometry] for f in fs], sort_keys=True)
    if key not in _cov_cache:
        _cov_cache.clear()
        _cov_cache[key] = coverage([f.geometry for f in fs], cams)
    return _cov_cache[key]


def read_reviews(path: Path | None = None) -> dict[str, Any]:
    path = path or REVIEWS_FILE
    with _reviews_lock:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}


def write_review(alert_id: int, verdict: str, actor: str, path: Path | None = None) -> None:
    path = path or REVIEWS_FILE
    with _reviews_lock:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        data[str(alert_id)] = {"verdict": verdict, "by": actor, "at": time.time()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)


def smoke_alerts(ctx: PanelContext, limit: int = 50, closed_too: bool = True) -> list[Any]:
    states = ("open", "acknowledged", "closed") if closed_too else ("open", "acknowledged")
    return [a for a in ctx.store.alerts(states=states, limit=limit * 4) if a.rule_id == RULE_ID][:limit]


def review_state(alert: Any, reviews: dict[str, Any]) -> str:
    r = reviews.get(str(alert.id))
    if r:
        return r["verdict"]
    return "confirmed" if alert.state == "acknowledged" else "pending" if alert.state == "open" else "dismissed"


def _csrf_token() -> str:
    try:
        from flask_wtf.csrf import generate_csrf
        return generate_csrf()
    except Exception:  # noqa: BLE001 - outside a request (tests, server-side renders)
        return ""


def _cam_label(cam_by_id: dict[str, Camera], cam_id: str, lang: str) -> str:
    cam = cam_by_id.get(cam_id)
    return cam.label(lang) if cam else cam_id


# -------------------------------------------------------------------------------- panels
def kpis(ctx: PanelContext) -> Any:
    """Cameras online, lookout coverage of the forests, smoke alerts to review, today's events."""
    cams = cameras(ctx)
    online = 0
    for c in cams:
        st = STATE.get(c.id)
        if st and st.status and st.status.state == "online":
            online += 1
    cov = lookout_coverage(ctx)
    alerts = smoke_alerts(ctx, closed_too=False)
    reviews = read_reviews()
    pending = sum(1 for a in alerts if review_state(a, reviews) == "pending")
    ctx.data_time = max((s.frame_time for s in STATE.cameras.values() if s.frame_time), default=None) or time.time()

    def kpi(label: str, value: str, unit: str = "", color: str | None = None) -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([html.Span(value, className="tb-kpi-value", style={"color": color} if color else {}),
                      html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label")])
    share = cov["share"] * 100
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(2, 1fr)"}, children=[
        kpi(ctx.text("在线视频点位", "Cameras online"), f"{online}", f"/{len(cams)}"),
        kpi(ctx.text("林区监测覆盖率", "Lookout coverage"), f"{share:.0f}", "%",
            "#3ddc84" if share >= 99.5 else SEVERITY_COLORS[3]),
        kpi(ctx.text("待复核烟雾报警", "Smoke alerts to review"), f"{pending}", "",
            SEVERITY_COLORS[2] if pending else None),
        kpi(ctx.text("林区面积", "Forest area"), f"{cov['forest_km2']:.1f}", "km²"),
    ])


def wall(ctx: PanelContext) -> Any:
    """Latest frame per camera with boxes; state (online / offline / stale) and last frame time."""
    cams = cameras(ctx)
    cols = int(ctx.options.get("columns", 2))
    tiles = []
    newest = None
    for c in cams:
        st = STATE.get(c.id)
        status = st.status.state if st and st.status else "offline"
        t = st.frame_time if st else None
        newest = max(newest or 0, t) if t else newest
        color = STATE_COLORS.get(status, "#8a96a8")
        if st and st.alert_on:
            color = SEVERITY_COLORS[2]
        if st and st.has_frame:
            pic = html.Img(src=f"{frame_url(c.id)}?t={int((t or 0) * 1000)}", alt=c.label(ctx.lang),
                           style={"width": "100%", "aspectRatio": "4 / 3", "objectFit": "cover", "display": "block",
                                  "filter": "grayscale(80%)" if status == "offline" else "none"})
        else:
            pic = html.Div(ctx.text("无画面", "no picture"), style={
                "width": "100%", "aspectRatio": "4 / 3", "display": "flex", "alignItems": "center",
                "justifyContent": "center", "background": "#0b1a2e", "color": "#8a96a8", "fontSize": "18px"})
        zh, en = STATE_TEXT.get(status, (status, status))
        when = time.strftime("%H:%M:%S", time.localtime(t)) if t else "–"
        extra = []
        if st and st.status and st.status.corrupt:
            extra.append(ctx.text(f"坏帧 {st.status.corrupt}", f"bad frames {st.status.corrupt}"))
        if st and st.night:
            extra.append(ctx.text("夜间暂停", "night pause"))
        tiles.append(html.Div(className="ff-tile", **{"data-state": status}, style={
            "border": f"2px solid {color}", "borderRadius": "4px", "overflow": "hidden", "background": "#06101f"},
            children=[
                pic,
                html.Div(style={"display": "flex", "justifyContent": "space-between", "gap": "6px",
                                "padding": "3px 6px", "fontSize": "16px", "lineHeight": "1.3"}, children=[
                    html.Span(c.label(ctx.lang) + (" · IR" if c.is_ir else ""),
                              style={"overflow": "hidden", "whiteSpace": "nowrap", "textOverflow": "ellipsis"}),
                    html.Span(ctx.text(zh, en), style={"color": color, "flex": "none"})]),
                html.Div(style={"display": "flex", "justifyContent": "space-between", "padding": "0 6px 4px",
                                "fontSize": "16px", "color": "#9fb3c8"}, children=[
                    html.Span(when),
                    html.Span(" · ".join(extra + [ctx.text(f"烟雾 {st.score:.2f}", f"smoke {st.score:.2f}")])
                              if st else "")]),
            ]))
    ctx.data_time = newest
    note = None
    if STATE.detector_error:
        note = html.Div(ctx.text("检测模型未加载：", "Detector not loaded: ") + STATE.detector_error,
                        style={"color": "#f6d33c", "fontSize": "16px", "padding": "4px 2px"})
    rows = []
    for c in cams:
        st = STATE.get(c.id)
        s = st.status if st else None
        state = s.state if s else "offline"
        zh, en = STATE_TEXT.get(state, (state, state))
        rows.append(html.Tr([
            html.Td(c.label(ctx.lang), title=c.label(ctx.lang),
                    style={"whiteSpace": "nowrap", "overflow": "hidden", "maxWidth": "0", "width": "40%",
                           "textOverflow": "ellipsis"}),   # the name takes what the other columns leave
            html.Td(ctx.text(zh, en), style={"color": STATE_COLORS.get(state, "#8a96a8")}),
            html.Td(f"{c.bearing_deg:.0f}°/{c.fov_deg:.0f}°"),
            html.Td(f"{c.interval_s:g}s"),
            html.Td(str(s.frames if s else 0)), html.Td(str(s.corrupt if s else 0)),
            html.Td(str(s.reconnects if s else 0))]))
    # short English heads, each cell on one line: a narrow column never breaks a word ("Bearin/g", "onlin/e")
    head = html.Tr([html.Th(ctx.text(a, b), title=ctx.text(a, t)) for a, b, t in (
        ("点位", "Camera", "Camera"), ("状态", "State", "State"), ("朝向/视角", "View", "Bearing / field of view"),
        ("间隔", "Every", "Frame interval"), ("帧", "Frames", "Frames read"), ("坏帧", "Bad", "Bad frames"),
        ("重连", "Recon.", "Reconnections"))])
    table = html.Table([html.Thead(head), html.Tbody(rows)], className="ff-cams", style={
        "width": "100%", "fontSize": "16px", "marginTop": "10px", "borderCollapse": "separate", "borderSpacing": "6px 2px",
        "textAlign": "left", "whiteSpace": "nowrap"})
    return html.Div(style={"height": "100%", "overflow": "hidden"}, children=[
        note,
        html.Div(tiles, className="ff-wall", style={"display": "grid", "gap": "8px",
                                                    "gridTemplateColumns": f"repeat({cols}, 1fr)"}),
        table if ctx.options.get("table", True) else None,
    ])


def alert_list(ctx: PanelContext) -> Any:
    """Smoke alerts: snapshot, camera, bearing, score, time; AI state and the human verdict with buttons."""
    limit = int(ctx.options.get("limit", 6))
    alerts = smoke_alerts(ctx, limit=limit)
    ctx.data_time = time.time()
    if not alerts:
        return html.Div(ctx.text("暂无烟雾报警", "No smoke alerts"), className="tb-empty")
    cam_by_id = {c.id: c for c in cameras(ctx)}
    reviews = read_reviews()
    token = _csrf_token()

    def live_on(cam_id: str) -> bool:
        st = STATE.get(cam_id)
        return bool(st and st.alert_on)
    items = []
    for a in alerts:
        d = a.details or {}
        verdict = review_state(a, reviews)
        vzh, ven = REVIEW_TEXT[verdict]
        vcolor = {"pending": SEVERITY_COLORS[2], "confirmed": SEVERITY_COLORS[1], "dismissed": "#8a96a8"}[verdict]
        buttons = []
        if verdict == "pending":
            btn = {"padding": "2px 10px", "fontSize": "16px", "borderRadius": "3px", "cursor": "pointer",
                   "border": "1px solid #2f8cf2", "background": "#0b2447", "color": "#e6f1ff", "fontFamily": "inherit"}
            buttons = [html.Form(action=f"/plugins/forest_fire/review/{a.id}", method="POST",
                                 style={"display": "flex", "gap": "6px"}, children=[
                dcc.Input(type="hidden", name="csrf_token", value=token),
                html.Button(ctx.text("确认火情", "Confirm"), name="verdict", value="confirm", type="submit",
                            style={**btn, "borderColor": SEVERITY_COLORS[1]}),
                html.Button(ctx.text("误报", "Dismiss"), name="verdict", value="dismiss", type="submit", style=btn)])]
        # the review page: the alarm's frame, where the operator draws or corrects the smoke boxes (learning loop)
        buttons.append(html.A(ctx.text("标注", "Label"), href=f"/plugins/forest_fire/label/{a.id}"
                              + ("?lang=en" if ctx.lang == "en" else ""), target="_blank", className="ff-label-link",
                              style={"color": "#9ad7ff", "fontSize": "16px"}))
        thumb = html.Img(src=d.get("snapshot"), style={"width": "112px", "height": "84px", "objectFit": "cover",
                                                       "flex": "none", "border": "1px solid #1d4f8f"}) \
            if d.get("snapshot") else None
        bearing = d.get("bearing_deg")
        items.append(html.Li(className="ff-alert", **{"data-review": verdict}, style={
            "display": "flex", "gap": "10px", "alignItems": "center", "padding": "6px 2px",
            "borderBottom": "1px dashed rgba(29,79,143,0.6)"}, children=[
            thumb,
            html.Div(style={"flex": "1", "minWidth": "0", "fontSize": "16px", "lineHeight": "1.35"}, children=[
                html.Div(_cam_label(cam_by_id, a.entity_id, ctx.lang), style={
                    "fontWeight": "700", "whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}),
                html.Div([html.Span(ctx.text("AI 识别", "AI") + f" {float(d.get('score', a.value or 0)):.2f}"),
                          html.Span(ctx.text(" · 仍可见", " · still seen") if live_on(a.entity_id) else "",
                                    style={"color": SEVERITY_COLORS[2]}),
                          html.Span(f" · {bearing:.0f}°" if bearing is not None else ""),
                          html.Span(" · " + time.strftime("%H:%M:%S", time.localtime(d.get("frame_time")
                                                                                   or a.opened_at)))],
                         style={"color": "#9fb3c8"}),
                html.Div(style={"display": "flex", "gap": "8px", "alignItems": "center", "marginTop": "2px"},
                         children=[html.Span(ctx.text(vzh, ven), style={"color": vcolor, "fontWeight": "700"}),
                                   *buttons]),
            ])]))
    return html.Ul(items, className="ff-alerts", style={"listStyle": "none", "margin": 0, "padding": 0,
                                                         "height": "100%", "overflow": "hidden"})


def _rgba(hex_color: str, a: int) -> list[int]:
    return [int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16), a]


def fixes(ctx: PanelContext, cams: list[Camera] | None = None) -> list[dict[str, Any]]:
    """Estimated fire locations: where the bearings of two cameras' open smoke alerts cross."""
    cams = cams if cams is not None else cameras(ctx)
    by_id = {c.id: c for c in cams}
    alerts = [a for a in smoke_alerts(ctx, closed_too=False)
              if a.entity_id in by_id and (a.details or {}).get("bearing_deg") is not None]
    out = []
    for i, a in enumerate(alerts):
        for b in alerts[i + 1:]:
            ca, cb = by_id[a.entity_id], by_id[b.entity_id]
            if ca.entity_id == cb.entity_id:
                continue  # two poses of one PTZ camera: same place, no fix
            p = intersect_bearings(ca, a.details["bearing_deg"], cb, b.details["bearing_deg"])
            if p:
                out.append({"position": [p[0], p[1]], "cameras": [ca.id, cb.id], "alerts": [a.id, b.id],
                            "name": ctx.text(f"估计火点：{ca.label('zh')} × {cb.label('zh')}",
                                             f"Estimated fire: {ca.label('en')} × {cb.label('en')}")})
    return out


def map3d(ctx: PanelContext) -> pdk.Deck:
    """Forests, cameras with view cones, smoke bearings, and the bearing intersection of two cameras."""
    cams = cameras(ctx)
    name = (lambda e: e.name_en or e.name) if ctx.lang == "en" else (lambda e: e.name)
    base = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f.geometry, "properties": {"name": name(f)}} for f in forests(ctx)]}
    cones, masts, rays = [], [], []
    open_alerts = {a.entity_id: a for a in smoke_alerts(ctx, closed_too=False)}
    for c in cams:
        st = STATE.get(c.id)
        status = st.status.state if st and st.status else "offline"
        alert = c.id in open_alerts or bool(st and st.alert_on)
        color = SEVERITY_COLORS[2] if alert else "#4cc3ff" if status in ("online", "starting") else \
            STATE_COLORS.get(status, "#8a96a8")
        cones.append({"polygon": [list(p) for p in view_cone(c)], "name": c.label(ctx.lang),
                      "fill": _rgba(color, 60 if not alert else 90), "line": _rgba(color, 220)})
        a = open_alerts.get(c.id)
        if a and (a.details or {}).get("bearing_deg") is not None:
            end = destination(c.lon, c.lat, a.details["bearing_deg"], c.range_m)
            rays.append({"from": [c.lon, c.lat], "to": list(end), "name": c.label(ctx.lang)})
    seen_masts = set()
    for c in cams:
        if c.entity_id in seen_masts:
            continue
        seen_masts.add(c.entity_id)
        masts.append({"position": [c.lon, c.lat], "height": max(c.elevation_m, 50) + c.height_m * 4,
                      "name": c.label(ctx.lang).split(" · ")[0], "color": _rgba("#4cc3ff", 235)})
    fx = fixes(ctx, cams)
    layers = [
        pdk.Layer("GeoJsonLayer", data=base, id="forests", stroked=True, filled=True, get_line_width=4,
                  line_width_min_pixels=1, get_fill_color=[34, 139, 84, 110], get_line_color=[80, 200, 120, 220],
                  pickable=True),
        pdk.Layer("PolygonLayer", data=cones, id="cones", get_polygon="polygon", get_fill_color="fill",
                  get_line_color="line", line_width_min_pixels=1, stroked=True, filled=True, pickable=True),
        pdk.Layer("LineLayer", data=rays, id="bearings", get_source_position="from", get_target_position="to",
                  get_color=_rgba(SEVERITY_COLORS[1], 255), get_width=4, pickable=True),
        pdk.Layer("ColumnLayer", data=masts, id="cameras", get_position="position", radius=90, disk_resolution=12,
                  get_elevation="height", get_fill_color="color", extruded=True, pickable=True),
    ]
    layers += [
        pdk.Layer("ScatterplotLayer", data=fx, id="fixes", get_position="position", get_radius=220,
                  radius_min_pixels=10, get_fill_color=_rgba(SEVERITY_COLORS[1], 230),
                  get_line_color=[255, 255, 255, 255], stroked=True, line_width_min_pixels=2, pickable=True),
    ]
    # Names are in the tooltips (Chinese map labels, where wanted: core.api.text_layer, the bundled font).
    site = next((s for s in ctx.store.sites() if s.id == "forest_fire.jiaojiang"), None)
    lon = site.lon if site else (sum(c.lon for c in cams) / len(cams) if cams else 121.405)
    lat = site.lat if site else (sum(c.lat for c in cams) / len(cams) if cams else 28.655)
    view = pdk.ViewState(longitude=lon, latitude=lat, zoom=float(ctx.options.get("zoom", site.zoom if site else 12.5)),
                         pitch=45, bearing=-10)
    ctx.data_time = max((s.frame_time for s in STATE.cameras.values() if s.frame_time), default=None)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}"})


def score_strip(ctx: PanelContext) -> Any:
    """Smoke score per camera over the last minutes, with the alert threshold."""
    minutes = float(ctx.options.get("minutes", 10))
    since = time.time() - minutes * 60
    fig = go.Figure()
    newest = None
    top = 0.0
    for c in cameras(ctx):
        pts = ctx.store.series(c.id, METRIC, since=since)
        if not pts:
            continue
        newest = max(newest or 0, pts[-1][0])
        top = max(top, max(v for _, v in pts))
        fig.add_trace(go.Scatter(x=[datetime.fromtimestamp(t) for t, _ in pts],
                                 y=[v for _, v in pts], mode="lines", name=c.label(ctx.lang), line={"width": 3}))
    thr = float(getattr(ctx.settings, "alert_conf", 0.15))
    fig.add_hline(y=thr, line={"color": SEVERITY_COLORS[2], "dash": "dash", "width": 2},
                  annotation_text=ctx.text(f"报警阈值 {thr:g}", f"alert {thr:g}"),
                  annotation_font={"size": 15, "color": SEVERITY_COLORS[2]})
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin={"l": 48, "r": 12, "t": 8, "b": 30}, font={"size": 15, "color": "#e6f1ff", "family": FONT},
                      legend={"orientation": "h", "y": 1.18, "font": {"size": 14}},
                      yaxis={"range": [0, max(0.5, thr * 2, top * 1.1)], "gridcolor": "#1d4f8f"},
                      xaxis={"nticks": 6, "gridcolor": "#1d4f8f", "tickformat": "%H:%M:%S"}, uirevision="smoke")
    ctx.data_time = newest
    return dcc.Graph(figure=fig, config={"displayModeBar": False}, style={"height": "100%", "width": "100%"})
