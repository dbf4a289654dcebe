"""flood_defence: the 四预 loop for Jiaojiang — forecast (stations, trends, typhoon), warning (blue..red),
rehearsal (inundation on the DEM) and plan (response checklists, transfers, shelters, five nets)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import flask
import yaml

from core.api import EntityKind, PanelSpec, RouteSpec, SourceSpec, hookimpl

from . import inundation_panels, panels, typhoon_admin, typhoon_panels
from .data import TWIN_DIR
from .settings import FloodSettings
from .simulator import StormSimulator
from .stations import stations_from_entities
from .warnings import WaterLevelRule

log = logging.getLogger(__name__)
PLUGIN = "flood_defence"


@hookimpl
def register_settings_model() -> type[FloodSettings]:
    return FloodSettings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("town", "街道(镇)", "Street/town", "#4678be"),
            EntityKind("village", "村(社区)", "Village", "#e6f1ff"),
            EntityKind("station", "水文测站", "Hydrological station", "#36c6ff"),
            EntityKind("risk_point", "风险点", "Risk point", "#f5852a"),
            EntityKind("shelter", "避灾安置场所", "Shelter", "#2fd08a"),
            EntityKind("reservoir", "水库", "Reservoir", "#3f8fe0"),
            EntityKind("seawall", "海塘", "Sea wall", "#ffc850"),
            EntityKind("river", "河道", "River", "#3caaff"),
            EntityKind("sea", "海域", "Sea", "#0a285a"),
            EntityKind("land", "陆地(底图)", "Land (base map)", "#18304e"),
            EntityKind("material_store", "防汛物资仓库", "Materials store", "#c08cff"),
            EntityKind("best_track", "台风最佳路径文件", "Typhoon best-track file", "#a896dc")]


@hookimpl
def register_twin_models() -> list[Path]:
    return [TWIN_DIR / "coast_sketch.geojson", TWIN_DIR / "base.geojson", TWIN_DIR / "twin.yaml"]


@hookimpl
def register_sources(settings: FloodSettings) -> list[SourceSpec]:
    if not settings.simulate:
        return []
    return [SourceSpec("storm", interval_s=settings.interval_s, poll=StormSimulator(settings).poll)]


def twin_stations(settings: FloodSettings, path: Path | None = None) -> list:
    """The stations of the plugin's twin file (the alert rule is built before the store has the twin)."""
    doc = yaml.safe_load((path or TWIN_DIR / "twin.yaml").read_text(encoding="utf-8")) or {}
    ents = [SimpleNamespace(id=e["id"], kind=e["kind"], name=e["name"], name_en=e.get("name_en", ""),
                            properties=e.get("properties") or {},
                            geometry={"type": "Point", "coordinates": [e.get("lon"), e.get("lat")]})
            for e in doc.get("entities", []) if e.get("kind") == "station"]
    return stations_from_entities(ents, settings.blue_margin_m)


@hookimpl
def register_alert_rules(settings: FloodSettings) -> list[WaterLevelRule]:
    sts = twin_stations(settings)
    for s in sts:
        if s.threshold_error:
            log.warning("flood_defence: %s", s.threshold_error)
    return [WaterLevelRule(f"{PLUGIN}.water_level", {s.id: (s.thresholds, s.metric, s.name) for s in sts if s.thresholds},
                           settings.max_rate_m_per_min)]


def _action_done(action_id: str) -> flask.Response:
    host = flask.current_app.config["TWINBOARD_HOST"]
    actor = (flask.g.get("identity") or {}).get("user") or "screen"
    host.store.audit(actor, "flood_defence.action_done", f"action:{action_id}")
    return flask.jsonify({"ok": True, "action": action_id})


@hookimpl
def register_routes() -> list[RouteSpec]:
    return [RouteSpec("actions/<action_id>/done", _action_done, methods=("POST",))] + typhoon_admin.routes()


@hookimpl
def register_commands(subparsers) -> None:  # noqa: ANN001 - argparse's private type
    typhoon_admin.add_commands(subparsers)   # twinboard typhoon import FILE | list | drop NAME


@hookimpl
def register_panels() -> list[PanelSpec]:
    src = ("storm",)
    return [
        PanelSpec(f"{PLUGIN}.kpis", "防汛防台态势", "Flood & typhoon figures", panels.kpis, sources=src, refresh_s=5),
        PanelSpec(f"{PLUGIN}.hydrograph", "水位过程线", "Hydrograph", panels.hydrograph, sources=src, refresh_s=5,
                  default_options={"station": "haimen_tide", "minutes": 30, "fit_min": 3, "forecast_min": 5}),
        PanelSpec(f"{PLUGIN}.rainfall", "累计雨量", "Rainfall totals", panels.rainfall, sources=src, refresh_s=10),
        PanelSpec(f"{PLUGIN}.warnings", "水位预警", "Water-level warnings", panels.warnings_list, sources=src, refresh_s=5),
        PanelSpec(f"{PLUGIN}.typhoon_map", "台风路径与风圈", "Typhoon track and wind circles", typhoon_panels.typhoon_map,
                  sources=src, refresh_s=5, kind="deck", basemap=True),
        PanelSpec(f"{PLUGIN}.typhoon_info", "台风信息", "Typhoon", typhoon_panels.typhoon_info, sources=src, refresh_s=5),
        PanelSpec(f"{PLUGIN}.inundation3d", "淹没预演(三维)", "Inundation rehearsal 3D", inundation_panels.inundation3d,
                  refresh_s=60, kind="deck", basemap=True, default_options={"scenario": "s50b"}),
        PanelSpec(f"{PLUGIN}.rehearsal", "预演方案对比", "Rehearsal scenarios", inundation_panels.rehearsal, refresh_s=60,
                  default_options={"scenario": "s50b"}),
        PanelSpec(f"{PLUGIN}.plan", "应急响应预案", "Response plan", panels.plan_checklist, sources=src, refresh_s=5),
        PanelSpec(f"{PLUGIN}.transfers", "人员转移与安置", "Transfers and shelters", panels.transfers_panel,
                  sources=src, refresh_s=5),
        PanelSpec(f"{PLUGIN}.five_nets", "基层防汛体系五张网", "Five nets", panels.five_nets, refresh_s=60),
    ]
