"""The evaluation report (应急评估) of a closed incident: one HTML file and one PDF.

Contents: the incident card (type, place, times, severity, drill mark), response times (intake →
dispatch → arrival → closure), the teams and materials used, the warnings published, the press
releases (新闻发布, with their state), the full timeline ("who did what when") and a map (roads, the incident, the teams' routes, nearby
resources) drawn with matplotlib. The HTML embeds the map as a PNG; the PDF is written with fpdf2
in the screens' own font (Noto Sans SC, OFL), unpacked once from the bundled WOFF2 subset to a TTF
under ``var/cache`` (GB 2312 coverage: a character outside it prints as a blank box and is listed
in the log). A report for an incident still open is refused with the reason.

Style: a plain government report (light header shading, thin rules, page numbers); a drill's report
carries a diagonal "演练 DRILL" watermark on every page. Where the demo runs faster than real time
(the team tracker's ``speedup``, a drill's own speed) the response times say so and give the times
converted back to real time. An incident closed without 研判 or 调度 shows the reason given.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlmodel import select

from core.api import Incident, Store, WarningPublication

from . import incidents, press, publish
from .incidents import EVENT_TEXT, KINDS, STATE_TEXT, point_of
from .roads import RoadNetwork

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
FONTS = {"": ROOT / "assets" / "fonts" / "NotoSansSC-Regular.subset.woff2",
         "B": ROOT / "assets" / "fonts" / "NotoSansSC-Bold.subset.woff2"}
LEVEL = {1: "Ⅰ级(特别重大)", 2: "Ⅱ级(重大)", 3: "Ⅲ级(较大)", 4: "Ⅳ级(一般)"}


class ReportError(ValueError):
    """The report cannot be made (incident open or unknown)."""


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def _fmt_dur(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(round(s))
    return f"{s // 60} 分 {s % 60:02d} 秒" if s >= 60 else f"{s} 秒"


def _release_state(p: dict[str, Any]) -> str:
    """A press release's state for the report: 已发布, 演练(不公开), 更正第 N 号..."""
    text = press.STATES.get(p.get("state"), (str(p.get("state")),))[0]
    if p.get("is_drill"):
        text += "(演练,不公开)"
    if p.get("corrects"):
        text += f",更正第 {p['corrects']} 号"
    return text


def _release_people(p: dict[str, Any]) -> str:
    return " / ".join(str(p.get(k) or "—") for k in ("drafted_by", "reviewed_by", "published_by"))


def time_scales(inc: Incident, events: Any, speedup: float = 1.0) -> dict[str, float]:
    """How much faster than real time each response time ran: {"workflow": a drill's speed (its steps),
    "travel": the tracker's ``speedup`` when it recorded the arrivals (a person's record is real time)}."""
    tracked = any(e.actor.startswith("team:") for e in events if e.data.get("team"))
    return {"workflow": float(inc.properties.get("drill_speed") or 1.0),
            "travel": float(speedup or 1.0) if tracked else 1.0}


def real_times(times: dict[str, float | None], scales: dict[str, float]) -> dict[str, float | None]:
    """The response times converted to real time (the demo's time scales undone)."""
    w, tr = scales["workflow"], scales["travel"]
    i2d = None if times["intake_to_dispatch_s"] is None else times["intake_to_dispatch_s"] * w
    d2a = None if times["dispatch_to_arrival_s"] is None else times["dispatch_to_arrival_s"] * tr
    return {"intake_to_dispatch_s": i2d, "dispatch_to_arrival_s": d2a,
            "intake_to_arrival_s": None if i2d is None or d2a is None else i2d + d2a,
            "intake_to_close_s": None if times["intake_to_close_s"] is None else times["intake_to_close_s"] * w}


def scale_note(scales: dict[str, float]) -> str:
    """The sentence that says the demo ran faster than real time ("" when it did not)."""
    bits = []
    if scales["travel"] != 1:
        bits.append(f"演示时间倍率 ×{scales['travel']:g}：队伍行进按 ×{scales['travel']:g} 加速，"
                    f"调度→到场的实际用时按 ×{scales['travel']:g} 换算")
    if scales["workflow"] != 1:
        bits.append(f"演练按 ×{scales['workflow']:g} 速度推进：接报→调度、接报→结案按 ×{scales['workflow']:g} 换算")
    return ("注：" + "；".join(bits) + "。括号内为换算后的实际用时；预计到场用时为实际路况下的估算。") if bits else ""


def _fmt_scaled(shown: float | None, real: float | None) -> str:
    if shown is None or real is None or abs(real - shown) < 0.5:
        return _fmt_dur(shown)
    return f"{_fmt_dur(shown)}(折合 {_fmt_dur(real)})"


def close_note(inc: Incident) -> str:
    """"未经研判、调度即结案 · 理由: …" for an incident closed without those steps ("" otherwise)."""
    skipped = inc.properties.get("close_skipped")
    if not skipped:
        return ""
    steps = "、".join(STATE_TEXT[s][0] for s in skipped.get("steps", []) if s in STATE_TEXT)
    return f"未经{steps}即结案 · 理由：{skipped.get('reason') or '—'}"


def collect(store: Store, incident_id: int, speedup: float = 1.0) -> dict[str, Any]:
    """Everything the report shows, as plain data (also what tests check).

    ``speedup``: how many times faster than real time the demo's team tracker moved the teams.
    """
    inc = incidents.get(store, incident_id)
    if inc.state != "closed":
        raise ReportError(f"incident #{incident_id} is still open (state: {inc.state} "
                          f"{STATE_TEXT[inc.state][0]}); close it before producing its evaluation report")
    events = incidents.timeline(store, incident_id)
    with store.session() as db:
        pubs = list(db.scalars(select(WarningPublication).where(WarningPublication.incident_id == incident_id)).all())
    times = incidents.response_times(inc, events)
    scales = time_scales(inc, events, speedup)
    return {"incident": inc, "events": events, "times": times, "scales": scales,
            "real_times": real_times(times, scales), "scale_note": scale_note(scales), "close_note": close_note(inc),
            "teams": inc.properties.get("dispatches", []), "arrivals": inc.properties.get("arrivals", []),
            "materials": inc.properties.get("materials", []), "publications": pubs,
            "releases": sorted(press.releases(store, incident_id=incident_id), key=lambda r: r.properties["number"]),
            "actors": sorted({e.actor for e in events})}


def draw_map(store: Store, data: dict[str, Any], net: RoadNetwork | None, radius_km: float = 4.0) -> bytes:
    """A PNG map around the incident: roads, team routes, nearby resources, the incident."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    inc = data["incident"]
    x0, y0 = point_of(inc.geometry) or (121.45, 28.67)
    dx, dy = radius_km / 97.8, radius_km / 110.5
    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    fig.patch.set_facecolor("#07142b")
    ax.set_facecolor("#0b1d3a")
    if net is not None:
        segs = [p["path"] for p in net.edge_paths()
                if abs(p["path"][0][0] - x0) < dx * 1.2 and abs(p["path"][0][1] - y0) < dy * 1.2]
        ax.add_collection(LineCollection(segs, colors="#3b5b85", linewidths=0.6))
    for t in data["teams"]:
        if t.get("route"):
            xs, ys = zip(*t["route"])
            ax.plot(xs, ys, color="#3cdc78", linewidth=2.2)
            ax.plot(xs[0], ys[0], "o", color="#3cdc78", markersize=6)
    from matplotlib import font_manager
    font_manager.fontManager.addfont(str(_font_path(FONT_CACHE)))
    cjk = font_manager.FontProperties(fname=str(_font_path(FONT_CACHE)), size=8)
    kinds = {"emergency_shelter": ("^", "#2fd08a", "避难场所"), "medical_point": ("P", "#ffffff", "医疗点"),
             "material_depot": ("s", "#c08cff", "物资库"), "hazard_source": ("D", "#e8363b", "重大危险源"),
             "fire_rescue_station": ("h", "#ff503c", "消防站"), "micro_station": ("o", "#78f0aa", "微型救援站")}
    for kind, (marker, colour, label) in kinds.items():
        pts = [point_of(e.geometry) for e in store.entities(kind=kind)]
        pts = [p for p in pts if p and abs(p[0] - x0) < dx and abs(p[1] - y0) < dy]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, c=colour, s=40, zorder=3,
                       edgecolors="#07142b", linewidths=0.5, label=label)
    ax.plot([x0], [y0], marker="*", color="#e8363b", markersize=22, markeredgecolor="white", zorder=5)
    ax.set_xlim(x0 - dx, x0 + dx)
    ax.set_ylim(y0 - dy, y0 + dy)
    ax.set_aspect(1 / 0.877)
    ax.tick_params(colors="#9fb6cc", labelsize=7)
    for s in ax.spines.values():
        s.set_color("#3b5b85")
    ax.plot([], [], color="#3cdc78", linewidth=2.2, label="出动路线")
    ax.legend(loc="lower right", prop=cjk, facecolor="#07142b", labelcolor="#e6f1ff", framealpha=0.8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor=fig.get_facecolor())
    plt.close(fig)
    return buf.getvalue()


def render_html(data: dict[str, Any], map_png: bytes) -> str:
    """The report as one self-contained HTML page (map embedded; no external resources)."""
    inc, t = data["incident"], data["times"]
    e = html.escape
    drill = inc.is_drill
    rows = "".join(f"<tr><td>{_fmt_time(ev.ts)}</td><td>{e(ev.actor)}</td><td>{e({**STATE_TEXT, **EVENT_TEXT}.get(ev.kind, (ev.kind,))[0])}</td>"
                   f"<td>{e(ev.message)}</td></tr>" for ev in data["events"])
    teams = "".join(f"<tr><td>{e(tm['name'])}</td><td>{_fmt_time(tm.get('at'))}</td><td>{_fmt_dur(tm.get('eta_s'))}</td>"
                    f"<td>{_fmt_time(next((a['at'] for a in data['arrivals'] if a['id'] == tm['id']), None))}</td></tr>"
                    for tm in data["teams"]) or "<tr><td colspan=4>—</td></tr>"
    mats = "".join(f"<tr><td>{e(m['depot_name'])}</td><td>{e(m['name'])}</td><td>{m['count']} {e(m.get('unit', ''))}</td></tr>"
                   for m in data["materials"]) or "<tr><td colspan=3>—</td></tr>"
    pubs = "".join(f"<tr><td>#{p.id}</td><td>{e(publish.LEVELS.get(p.level, (p.level,))[0])}</td><td>{e(p.title)}</td><td>{len(p.recipients)}</td>"
                   f"<td>{_fmt_time(p.published_at)}</td></tr>" for p in data["publications"]) or "<tr><td colspan=5>—</td></tr>"
    rels = "".join(f"<tr><td>第 {r.properties['number']} 号</td><td>{e(r.properties['title'])}</td>"
                   f"<td>{e(_release_state(r.properties))}</td><td>{e(_release_people(r.properties))}</td>"
                   f"<td>{_fmt_time(r.properties.get('published_at'))}</td></tr>"
                   for r in data.get("releases", [])) or "<tr><td colspan=5>—</td></tr>"
    mark = ('<div class="drill">演练 DRILL — 本报告为模拟演练评估，非真实事件</div>'
            '<div class="watermark" aria-hidden="true">演练 DRILL</div>') if drill else ""
    rt = data["real_times"]
    note = f'<p class="note">{e(data["scale_note"])}</p>' if data["scale_note"] else ""
    closing = (f'<tr><td>结案说明</td><td class="skipped">{e(data["close_note"])}</td></tr>'
               if data["close_note"] else "")
    img = base64.b64encode(map_png).decode()
    p = inc.properties
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>应急评估报告 #{inc.id}</title>
<link rel="stylesheet" href="/assets/fonts.css">
<style>
body {{ font-family: "Noto Sans SC Subset", "Noto Sans SC", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC",
       "Source Han Sans SC", sans-serif; margin: 32px; color: #10223f; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }} h2 {{ font-size: 18px; border-bottom: 2px solid #1f5fa8; padding-bottom: 4px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }} td, th {{ border: 1px solid #c6d3e3; padding: 4px 8px; text-align: left; }}
th {{ background: #e9f0f8; }} .kv td:first-child {{ width: 180px; color: #4a6282; }}
.drill {{ border: 1.5px solid #b03a2e; color: #b03a2e; font-weight: 700; padding: 6px 12px; margin: 8px 0; font-size: 16px; }}
.watermark {{ position: fixed; top: 45%; left: 0; right: 0; text-align: center; transform: rotate(-35deg);
              font-size: 120px; font-weight: 700; color: rgba(176, 58, 46, 0.10); pointer-events: none; z-index: 9; }}
.note {{ color: #4a6282; font-size: 12px; }} .skipped {{ color: #b03a2e; }}
.figs {{ display: flex; gap: 16px; }} .fig {{ border: 1px solid #c6d3e3; padding: 8px 14px; }} .fig b {{ font-size: 22px; display: block; }}
</style></head><body>
{mark}
<h1>应急评估报告 · 事件 #{inc.id}</h1>
<div>{e(inc.title)}</div>
<h2>事件概况</h2>
<table class="kv">
<tr><td>事件类型</td><td>{e(KINDS.get(inc.kind, (inc.kind,))[0])}</td></tr>
<tr><td>事件等级</td><td>{LEVEL.get(inc.severity, inc.severity)}</td></tr>
<tr><td>地点</td><td>{e(p.get('place') or '')} ({point_of(inc.geometry)[0]:.5f}, {point_of(inc.geometry)[1]:.5f})</td></tr>
<tr><td>接报时间</td><td>{_fmt_time(p.get('reported_at') or inc.opened_at)}</td></tr>
<tr><td>报告人</td><td>{e(p.get('reporter') or '—')}</td></tr>
<tr><td>结案时间</td><td>{_fmt_time(inc.closed_at)}</td></tr>
<tr><td>研判</td><td>{e(p.get('assessment') or '—')}</td></tr>
<tr><td>结案摘要</td><td>{e(p.get('summary') or '—')}</td></tr>
{closing}
<tr><td>参与人员</td><td>{e('、'.join(data['actors']))}</td></tr>
</table>
<h2>响应时效</h2>
<div class="figs">
<div class="fig">接报 → 调度<b>{_fmt_scaled(t['intake_to_dispatch_s'], rt['intake_to_dispatch_s'])}</b></div>
<div class="fig">调度 → 到场<b>{_fmt_scaled(t['dispatch_to_arrival_s'], rt['dispatch_to_arrival_s'])}</b></div>
<div class="fig">接报 → 到场<b>{_fmt_scaled(t['intake_to_arrival_s'], rt['intake_to_arrival_s'])}</b></div>
<div class="fig">接报 → 结案<b>{_fmt_scaled(t['intake_to_close_s'], rt['intake_to_close_s'])}</b></div>
</div>
{note}
<h2>调度队伍</h2>
<table><tr><th>队伍</th><th>出动时间</th><th>预计到场用时(实际路况)</th><th>到场时间</th></tr>{teams}</table>
<h2>调用物资</h2>
<table><tr><th>物资库</th><th>物资</th><th>数量</th></tr>{mats}</table>
<h2>预警发布</h2>
<table><tr><th>编号</th><th>等级</th><th>标题</th><th>接收对象数</th><th>发布时间</th></tr>{pubs}</table>
<h2>新闻发布</h2>
<table id="report-releases"><tr><th>编号</th><th>标题</th><th>状态</th><th>起草 / 审核 / 发布</th><th>发布时间</th></tr>{rels}</table>
<h2>处置地图</h2>
<img alt="map" style="max-width: 100%" src="data:image/png;base64,{img}">
<h2>事件时间线 (谁在何时做了什么)</h2>
<table><tr><th>时间</th><th>操作人</th><th>环节</th><th>内容</th></tr>{rows}</table>
<p style="color:#4a6282;font-size:12px">twinboard command_center 自动生成于 {_fmt_time(time.time())}</p>
</body></html>"""


FONT_CACHE = ROOT / "var" / "cache" / "fonts"
_font_lock = threading.Lock()


def warm_fonts() -> None:
    """Unpack the PDF fonts now (a few seconds, once per checkout) so the first report is quick."""
    for style in FONTS:
        _font_path(FONT_CACHE, style)


def _font_path(cache: Path, style: str = "") -> Path:
    """A TTF of the bundled Noto Sans SC subset (fpdf2 needs TrueType, the screens ship WOFF2)."""
    woff2 = FONTS[style]
    ttf = cache / woff2.name.replace(".woff2", ".ttf")
    with _font_lock:
        if ttf.exists() and ttf.stat().st_mtime >= woff2.stat().st_mtime:
            return ttf
        from fontTools.ttLib import TTFont
        cache.mkdir(parents=True, exist_ok=True)
        font = TTFont(str(woff2))
        font.flavor = None
        tmp = ttf.with_suffix(f".{threading.get_ident()}.tmp")
        font.save(str(tmp))
        tmp.replace(ttf)
    return ttf


#: the report's restrained table look: thin light rules, a lightly shaded header row
RULE_RGB, HEAD_RGB, INK_RGB, MUTED_RGB, DRILL_RGB = (190, 204, 222), (236, 241, 247), (16, 34, 63), (74, 98, 130), (176, 58, 46)


def _pdf_class() -> type:
    from fpdf import FPDF

    class ReportPDF(FPDF):
        """A4 report pages: page numbers at the foot; a drill's pages carry the diagonal watermark."""

        drill = False
        title_line = ""

        def _watermark(self) -> None:
            # drawn last on every page (from the footer), translucent, so it shows over the map too
            with self.local_context(text_color=DRILL_RGB, fill_opacity=0.12):
                self.set_font("NotoSC", "B", 64)
                text = "演练 DRILL"
                w = self.get_string_width(text)
                with self.rotation(35, x=self.w / 2, y=self.h / 2):
                    self.text(self.w / 2 - w / 2, self.h / 2 + 8, text)

        def footer(self) -> None:
            if self.drill:
                self._watermark()
            self.set_y(-11)
            with self.local_context(text_color=MUTED_RGB):
                self.set_font("NotoSC", "", 8)
                self.cell(0, 5, f"{self.title_line}    第 {self.page_no()} / {{nb}} 页", align="C")

    return ReportPDF


def render_pdf(data: dict[str, Any], map_png: bytes, cache: Path) -> bytes:
    """The same report as a PDF (A4)."""
    from fpdf.fonts import FontFace

    inc, t, rt = data["incident"], data["times"], data["real_times"]
    pdf = _pdf_class()(format="A4")
    pdf.drill = bool(inc.is_drill)
    pdf.title_line = f"应急评估报告 · 事件 #{inc.id}" + (" · 演练" if inc.is_drill else "")
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("NotoSC", "", str(_font_path(cache)))
    pdf.add_font("NotoSC", "B", str(_font_path(cache, "B")))
    pdf.set_draw_color(*RULE_RGB)
    pdf.set_line_width(0.2)
    pdf.set_text_color(*INK_RGB)
    pdf.add_page()
    pdf.set_font("NotoSC", size=9)
    if inc.is_drill:
        with pdf.local_context(text_color=DRILL_RGB, draw_color=DRILL_RGB, line_width=0.4):
            pdf.set_font("NotoSC", "B", 12)
            pdf.cell(0, 9, "演练 DRILL — 本报告为模拟演练评估，非真实事件", border=1, align="C",
                     new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.set_font("NotoSC", "B", 17)
    pdf.cell(0, 11, f"应急评估报告 · 事件 #{inc.id}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("NotoSC", "", 10)
    pdf.multi_cell(0, 6, inc.title, new_x="LMARGIN", new_y="NEXT")
    p = inc.properties
    pt = point_of(inc.geometry) or (0.0, 0.0)
    head = FontFace(emphasis="BOLD", color=INK_RGB, fill_color=HEAD_RGB)
    style = {"borders_layout": "HORIZONTAL_LINES", "line_height": 6, "headings_style": head,
             "padding": (0.8, 1.5), "text_align": "LEFT"}

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("NotoSC", "B", 12)
        pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("NotoSC", "", 9)

    def note(text: str) -> None:
        if text:
            pdf.ln(1)
            with pdf.local_context(text_color=MUTED_RGB):
                pdf.set_font_size(8.5)
                pdf.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.set_font_size(9)

    heading("事件概况")
    kv = [] if not data["close_note"] else [("结案说明", data["close_note"])]
    with pdf.table(col_widths=(35, 145), first_row_as_headings=False, **style) as table:
        for k, v in (("事件类型", KINDS.get(inc.kind, (inc.kind,))[0]), ("事件等级", LEVEL.get(inc.severity, str(inc.severity))),
                     ("地点", f"{p.get('place') or ''} ({pt[0]:.5f}, {pt[1]:.5f})"),
                     ("接报时间", _fmt_time(p.get("reported_at") or inc.opened_at)), ("报告人", p.get("reporter") or "—"),
                     ("结案时间", _fmt_time(inc.closed_at)), ("研判", p.get("assessment") or "—"),
                     ("结案摘要", p.get("summary") or "—"), *kv, ("参与人员", "、".join(data["actors"]))):
            row = table.row()
            row.cell(k, style=FontFace(color=MUTED_RGB))
            row.cell(str(v), style=FontFace(color=DRILL_RGB) if k == "结案说明" else None)
    heading("响应时效")
    with pdf.table(col_widths=(45, 45, 45, 45), **style) as table:
        row = table.row()
        for h in ("接报 → 调度", "调度 → 到场", "接报 → 到场", "接报 → 结案"):
            row.cell(h)
        row = table.row()
        for k in ("intake_to_dispatch_s", "dispatch_to_arrival_s", "intake_to_arrival_s", "intake_to_close_s"):
            row.cell(_fmt_scaled(t[k], rt[k]))
    note(data["scale_note"])
    heading("调度队伍与物资")
    with pdf.table(col_widths=(66, 38, 38, 38), **style) as table:
        row = table.row()
        for h in ("队伍 / 物资", "出动时间", "预计用时(实际路况) / 数量", "到场时间"):
            row.cell(h)
        for tm in data["teams"]:
            row = table.row()
            row.cell(tm["name"])
            row.cell(_fmt_time(tm.get("at")))
            row.cell(_fmt_dur(tm.get("eta_s")))
            row.cell(_fmt_time(next((a["at"] for a in data["arrivals"] if a["id"] == tm["id"]), None)))
        for m in data["materials"]:
            row = table.row()
            row.cell(f"{m['depot_name']} · {m['name']}")
            row.cell("")
            row.cell(f"{m['count']} {m.get('unit', '')}")
            row.cell("")
    if data["publications"]:
        heading("预警发布")
        with pdf.table(col_widths=(15, 22, 91, 18, 34), **style) as table:
            row = table.row()
            for h in ("编号", "等级", "标题", "对象数", "发布时间"):
                row.cell(h)
            for pub in data["publications"]:
                row = table.row()
                for v in (f"#{pub.id}", publish.LEVELS.get(pub.level, (pub.level,))[0], pub.title, str(len(pub.recipients)), _fmt_time(pub.published_at)):
                    row.cell(v)
    if data.get("releases"):
        heading("新闻发布")
        with pdf.table(col_widths=(16, 70, 30, 34, 30), **style) as table:
            row = table.row()
            for h in ("编号", "标题", "状态", "起草/审核/发布", "发布时间"):
                row.cell(h)
            for rel in data["releases"]:
                q = rel.properties
                row = table.row()
                for v in (f"第{q['number']}号", q["title"], _release_state(q), _release_people(q),
                          _fmt_time(q.get("published_at"))):
                    row.cell(v)
    from PIL import Image
    px_w, px_h = Image.open(io.BytesIO(map_png)).size
    want_w = 150.0

    def map_width() -> float:
        room = pdf.h - pdf.b_margin - pdf.get_y() - 14  # what is left of the page below the heading
        return min(want_w, room * px_w / px_h)

    def draw_map(width: float) -> None:
        heading("处置地图")
        pdf.image(io.BytesIO(map_png), w=width, x=pdf.l_margin + (pdf.epw - width) / 2)

    def draw_timeline() -> None:
        heading("事件时间线 (谁在何时做了什么)")
        with pdf.table(col_widths=(34, 30, 16, 100), **style) as table:
            row = table.row()
            for h in ("时间", "操作人", "环节", "内容"):
                row.cell(h)
            for ev in data["events"]:
                row = table.row()
                row.cell(_fmt_time(ev.ts))
                row.cell(ev.actor)
                row.cell({**STATE_TEXT, **EVENT_TEXT}.get(ev.kind, (ev.kind,))[0])
                row.cell(ev.message)

    # No half-empty page before the map: it takes the rest of the page when that holds it at a readable
    # size; otherwise the timeline (which flows over pages) comes first and the map follows it.
    if map_width() >= 110:
        draw_map(map_width())
        draw_timeline()
    else:
        draw_timeline()
        if map_width() < 110:
            pdf.add_page()
        draw_map(map_width())
    return bytes(pdf.output())


def write_report(store: Store, incident_id: int, net: RoadNetwork | None, out_dir: Path,
                 actor: str = "system", speedup: float = 1.0) -> dict[str, Path]:
    """Write ``incident-<id>.html`` and ``.pdf`` under ``out_dir``; recorded on the timeline and audited.

    ``speedup``: the team tracker's demo time scale (CommandSettings.speedup), stated next to the times.
    """
    data = collect(store, incident_id, speedup)
    png = draw_map(store, data, net)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"incident-{incident_id}.html"
    pdf_path = out_dir / f"incident-{incident_id}.pdf"
    html_path.write_text(render_html(data, png), encoding="utf-8")
    pdf_path.write_bytes(render_pdf(data, png, FONT_CACHE))
    with store.session() as db:
        row = db.get(Incident, incident_id)
        row.properties = {**row.properties, "report": {"html": str(html_path), "pdf": str(pdf_path),
                                                       "at": time.time()}}
        db.add(row)
        db.commit()
    incidents.record(store, incident_id, actor, "report", "应急评估报告已生成",
                     {"html": str(html_path), "pdf": str(pdf_path)}, en="Evaluation report generated")
    return {"html": html_path, "pdf": pdf_path}

