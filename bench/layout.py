"""Server time to build the demo big-screen layout: core.web.screen.screen_layout versus hand-written Dash.

The twinboard side is screen_layout(dashboard, host, "zh_CN") for config/dashboards/demo.yaml,
with a Host started on a temporary SQLite database (run_sources=False). The hand-written side
is the same html.Div/Span/H1/A + dcc.Interval/dcc.Store tree with every title, position, id and
interval written in as literals: per panel its timer and the Stores screen_layout gives it (meta, deck
scene, the scene the browser holds, a "render now" poke), and the screen's map-selection Store (none of
the demo's panels follows the selection, so no data-follows mark). The two trees are checked to serialise
to identical JSON, then each build is timed --reps times (alternating) and the medians compared.

    .venv/bin/python bench/layout.py [--quick] [--reps N]

Last line: {"layout_ratio": twinboard / hand-written, "twinboard_us": ..., "handwritten_us": ...}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import plotly.utils  # noqa: E402
from dash import dcc, html  # noqa: E402

from core.web.dashboards import load_dashboards  # noqa: E402
from core.runtime.host import Host  # noqa: E402
from core.web.screen import screen_layout  # noqa: E402
from core.settings import load_settings  # noqa: E402


def _ids(key: str) -> dict[str, dict[str, str]]:
    return {part: {"type": f"tb-{part}", "panel": f"demo/{key}"}
            for part in ("tick", "meta", "body", "fresh", "deck", "deckhost", "frame", "have", "poke")}


def _frame(key: str, panel: str, title: str, x: int, y: int, w: int, h: int,
           interval_ms: int, deck: bool = False) -> html.Div:
    ids = _ids(key)
    return html.Div(
        id=ids["frame"], className="tb-panel tb-panel-deck" if deck else "tb-panel",
        **{"data-panel": panel, "data-key": key},
        style={"left": f"{x}px", "top": f"{y}px", "width": f"{w}px", "height": f"{h}px"},
        children=[
            html.Div(className="tb-panel-head", children=[
                html.Span(title, className="tb-panel-title"),
                html.Span(id=ids["fresh"], className="tb-fresh"),
            ]),
            html.Div(id=ids["body"], className="tb-panel-body",
                     children=html.Div("加载中…", className="tb-loading")),
            html.Div(id=ids["deckhost"], className="tb-deck-host" if deck else "tb-deck-host tb-hidden"),
            dcc.Interval(id=ids["tick"], interval=interval_ms, n_intervals=0),
            dcc.Store(id=ids["meta"], data={"uid": "demo", "key": key, "locale": "zh_CN"}),
            dcc.Store(id=ids["deck"]),
            dcc.Store(id=ids["have"]),      # the deck scene the browser holds (patches), and a "render now" poke
            dcc.Store(id=ids["poke"]),
        ])


def handwritten_layout() -> html.Div:
    """The demo screen in zh_CN, as a Dash developer would write it by hand."""
    return html.Div(className="tb-viewport", children=[
        html.Div(id="tb-canvas", className="tb-canvas tb-theme-dark",
                 **{"data-width": "1920", "data-height": "1080", "data-uid": "demo", "lang": "zh-CN"},
                 style={"width": "1920px", "height": "1080px"},
                 children=[
                     html.Div(className="tb-titlebar", style={"--tb-side": "340px", "--tb-title-size": "40px"},
                              children=[
                         html.Div(className="tb-title-left", children=[
                             html.Span("台州市椒江区应急管理局", className="tb-district"),
                         ]),
                         html.H1("椒江区应急管理数字孪生演示", className="tb-title", title="椒江区应急管理数字孪生演示"),
                         html.Div(className="tb-title-right", children=[
                             html.Span(id="tb-clock", className="tb-clock", **{"data-lang": "zh"}),
                             html.Div(className="tb-title-row", children=[
                                 html.Span("常态", id="tb-mode", className="tb-mode tb-mode-routine"),
                                 html.Span("演示 ×60", id="tb-demo-speed", className="tb-demo-speed",
                                           title="演示时间比真实时间快"),
                                 html.A("EN", href="?lang=en", className="tb-lang"),
                             ]),
                         ]),
                     ]),
                     _frame("kpis", "demo_sensors.kpis", "实时指标", 20, 104, 460, 220, 2000),
                     _frame("trend", "demo_sensors.trend", "气体浓度趋势", 20, 340, 460, 720, 2000),
                     _frame("map", "demo_sensors.map3d", "园区三维态势", 500, 104, 920, 700, 3000, deck=True),
                     _frame("alerts", "alerts.list", "实时报警", 500, 820, 920, 240, 1000),
                     _frame("levels", "alerts.summary", "报警分级统计", 1440, 104, 460, 220, 2000),
                     _frame("pressure", "demo_sensors.trend", "储罐压力与温度", 1440, 340, 460, 720, 2000),
                     dcc.Store(id="tb-select"),     # the last map pick, which selection-following panels read
                 ]),
    ])


def as_json(component: html.Div) -> str:
    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False, sort_keys=True)


def count_components(node: object) -> int:
    kids = getattr(node, "children", None)
    if kids is None:
        return 1 if hasattr(node, "to_plotly_json") else 0
    kids = kids if isinstance(kids, list) else [kids]
    return 1 + sum(count_components(k) for k in kids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3000)
    ap.add_argument("--quick", action="store_true", help="200 repetitions (a smoke run)")
    a = ap.parse_args()
    if a.quick:
        a.reps = min(a.reps, 200)

    with tempfile.TemporaryDirectory(prefix="tb-bench-layout-") as tmp:
        settings = load_settings(database_url=f"sqlite:///{Path(tmp) / 'layout.sqlite'}", run_sources=False)
        t = time.perf_counter()
        host = Host(settings).start()
        start_s = time.perf_counter() - t
        try:
            dashboard, _ = load_dashboards(settings.path(settings.dashboards_dir))["demo"]
            ours, theirs = screen_layout(dashboard, host, "zh_CN"), handwritten_layout()
            got, want = as_json(ours), as_json(theirs)
            if got != want:
                at = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
                raise SystemExit("the hand-written tree differs from screen_layout's (has screen_layout changed?) "
                                 f"at character {at}:\n  screen_layout: …{got[max(0, at - 150):at + 150]}…\n"
                                 f"  hand-written:  …{want[max(0, at - 150):at + 150]}…")
            print(f"layout: demo dashboard, {len(dashboard.panels)} panels, {count_components(ours)} components; "
                  f"host started in {start_s:.2f} s (run_sources=False); trees serialise identically")

            for _ in range(50 if a.quick else 200):  # warm-up
                screen_layout(dashboard, host, "zh_CN")
                handwritten_layout()
            tb_us: list[float] = []
            hand_us: list[float] = []
            clock = time.perf_counter
            for i in range(a.reps):
                if i % 2 == 0:
                    t = clock(); screen_layout(dashboard, host, "zh_CN"); tb_us.append((clock() - t) * 1e6)  # noqa: E702
                    t = clock(); handwritten_layout(); hand_us.append((clock() - t) * 1e6)  # noqa: E702
                else:
                    t = clock(); handwritten_layout(); hand_us.append((clock() - t) * 1e6)  # noqa: E702
                    t = clock(); screen_layout(dashboard, host, "zh_CN"); tb_us.append((clock() - t) * 1e6)  # noqa: E702
        finally:
            host.stop()
            host.store.engine.dispose()

    tb, hand = statistics.median(tb_us), statistics.median(hand_us)
    ratio = tb / hand
    print(f"  screen_layout (twinboard)  median {tb:8.1f} µs per build over {a.reps} builds")
    print(f"  hand-written Dash          median {hand:8.1f} µs per build over {a.reps} builds")
    print(f"  layout_ratio (twinboard / hand-written) = {ratio:.3f}")
    print(json.dumps({"layout_ratio": round(ratio, 4), "twinboard_us": round(tb, 1),
                      "handwritten_us": round(hand, 1), "reps": a.reps}))


if __name__ == "__main__":
    main()
