"""forest_fire: smoke detection on lookout camera feeds, alerts with human review, cameras on a 3D map.

Modules: cameras (twin entities → cameras, view cones, bearings, coverage), frames (OpenCV sources,
reconnect, corrupt frames), detector (the project's YOLO weights, offline), rule (pyronear-style
temporal alert rule), source (per-camera loop), panels, routes, replay (``twinboard smoke replay``),
demo_feeds (rendered demo videos). The detector's training pipeline lives in ``smoke/``.
"""

from __future__ import annotations

from pathlib import Path

from core.api import EntityKind, PanelSpec, ProcessSpec, RouteSpec, SourceSpec, hookimpl

from . import panels, routes
from .settings import ForestFireSettings
from .source import configured_cameras, make_sources, source_name, twin_paths


@hookimpl
def register_settings_model() -> type[ForestFireSettings]:
    return ForestFireSettings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("camera", "林火监测摄像机", "Lookout camera", "#4cc3ff"),
            EntityKind("forest", "林区", "Forest", "#2e9e5b")]


@hookimpl
def register_twin_models(settings: ForestFireSettings) -> list[Path]:
    return twin_paths(settings)


@hookimpl
def register_sources(settings: ForestFireSettings) -> list[SourceSpec]:
    return make_sources(settings)


@hookimpl
def register_routes(settings: ForestFireSettings) -> list[RouteSpec]:
    return routes.routes(settings)


@hookimpl
def register_panels(settings: ForestFireSettings) -> list[PanelSpec]:
    cams = tuple(source_name(c) for c in configured_cameras(settings))
    return [
        PanelSpec("forest_fire.kpis", "森林防火概况", "Forest fire watch", panels.kpis, refresh_s=3),
        PanelSpec("forest_fire.wall", "视频监控墙", "Camera wall", panels.wall, sources=cams, refresh_s=2,
                  stale_after_s=20),
        PanelSpec("forest_fire.alerts", "烟雾报警 · 人工复核", "Smoke alerts · review", panels.alert_list,
                  refresh_s=2, default_options={"limit": 6}),
        PanelSpec("forest_fire.map3d", "林区三维态势", "Forests in 3D", panels.map3d, sources=cams, refresh_s=3,
                  kind="deck", stale_after_s=30, basemap=True),
        PanelSpec("forest_fire.scores", "烟雾评分趋势", "Smoke score", panels.score_strip, sources=cams,
                  refresh_s=3, default_options={"minutes": 10}, stale_after_s=20),
    ]


@hookimpl
def register_processes() -> list[ProcessSpec]:
    # Frame grabbing and smoke detection as Celery tasks (scale.py): `twinboard up --video N`.
    import sys
    return [ProcessSpec("video", [sys.executable, "-m", "celery", "-A", "plugins.forest_fire.scale:celery_app",
                                  "worker", "--pool=solo", "--concurrency=1", "-Q", "forest_fire",
                                  "-n", "video{index}@%h", "--without-gossip", "--without-mingle"],
                        help="Celery video workers: camera frames and smoke detection", needs_broker=True),
            # the learning loop's retrain task (smoke/retrain.py) on its own queue
            ProcessSpec("smoke_train", [sys.executable, "-m", "celery", "-A", "plugins.forest_fire.scale:celery_app",
                                        "worker", "--pool=solo", "--concurrency=1", "-Q", "forest_fire_train",
                                        "-n", "smoketrain{index}@%h", "--without-gossip", "--without-mingle"],
                        help="Celery worker that fine-tunes the smoke detector (twinboard smoke retrain)",
                        needs_broker=True)]


@hookimpl
def register_commands(subparsers) -> None:  # noqa: ANN001 - argparse's private type
    from .replay import add_replay_command
    from .smoke.cli import add_smoke_commands

    smoke = add_smoke_commands(subparsers)
    add_replay_command(smoke)
