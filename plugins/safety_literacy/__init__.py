"""safety_literacy: 全民安全素养提升 (plan section 九) — training records, rosters, 五进 outreach, KPIs.

One job per module: ``records`` (what is kept and how it is identified), ``tables`` (checking and
reading uploaded CSV/.xlsx files), ``importer`` (row checks, all-or-nothing idempotent import), ``edits``,
``kpis`` (the plan's targets and each unit's shortfall), ``panels`` (the big screen), ``routes`` (the
managers' upload page and JSON API), ``cli`` (``twinboard literacy``). The demonstration bases and two
fireworks enterprises are a twin file (``twin/bases.yaml``); the demo records are CSV/.xlsx files
(``demo/``) loaded through the same importer. Written against ``core.api`` only, like a vendor's plugin.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from core.api import EntityKind, MapLayerSpec, PanelSpec, RouteSpec, hookimpl

from . import cli, importer, kpis, panels, routes
from . import records as R

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: demo files in load order (rosters first; enterprise rows need the enterprises of the twin)
DEMO_FILES = (("demo_rosters.csv", "roster"), ("demo_training_government.csv", "training"),
              ("demo_training_enterprises.xlsx", "training"), ("demo_outreach.xlsx", "outreach"))


class Settings(BaseModel):
    """Targets' period, upload limits, which twin entities are enterprises."""

    demo_data: bool = Field(True, description="load the demo files (marked 演示) at startup, each once")
    period_days: int = Field(365, ge=30, le=1100, description="training without an expiry counts this many days")
    expiring_days: int = Field(60, ge=1, le=365, description="certificates expiring within this many days are listed")
    max_upload_bytes: int = Field(250_000, ge=1_000, le=250_000,
                                  description="largest file the upload page takes (the host refuses requests over 256 kB)")
    max_rows: int = Field(20_000, ge=10, le=200_000, description="most data rows in one file")
    enterprise_kinds: list[str] = Field(list(kpis.ENTERPRISE_KINDS),
                                        description="entity kinds that are enterprises (whichever plugin places them)")
    hazardous_kinds: list[str] = Field(list(kpis.HAZARDOUS_KINDS),
                                       description="entity kinds whose every entity is a hazardous-chemicals enterprise")


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind(R.KIND_TRAINING, "培训记录", "Training record", "#36c6ff"),
            EntityKind(R.KIND_ROSTER, "应训人员", "Person who must train", "#8fb3da"),
            EntityKind(R.KIND_OUTREACH, "五进宣教活动", "Outreach event", "#3cdc78"),
            EntityKind(R.KIND_BASE, "宣教示范基地", "Demonstration base", "#f6d33c"),
            EntityKind(R.KIND_FIREWORKS, "烟花爆竹经营企业", "Fireworks enterprise", "#ff8a3c")]


@hookimpl
def register_twin_models() -> list[Path]:
    return [HERE / "twin" / "bases.yaml"]


def load_demo(store: Any, settings: Settings) -> dict[str, Any]:
    """Import each demo file through the importer unless it was loaded before (by its file name).
    A file the twin cannot take (its enterprises' plugin is off) is logged and skipped."""
    out: dict[str, Any] = {}
    loaded = {(e.properties or {}).get("source_file") for k in importer.KIND_OF.values()
              for e in store.entities(kind=k, plugin=R.PLUGIN)}
    for name, dataset in DEMO_FILES:
        if name in loaded:
            continue
        try:
            out[name] = importer.import_file(store, (HERE / "demo" / name).read_bytes(), name, dataset,
                                             "demo:全民安全素养", max_bytes=5_000_000, demo=True,
                                             enterprise_kinds=tuple(settings.enterprise_kinds)).as_dict()
        except importer.ImportRefused as exc:
            log.warning("safety_literacy: demo file %s not loaded (%d errors), first: %s", name, len(exc.errors),
                        exc.errors[0])
            out[name] = {"errors": exc.errors}
    kpis.forget()
    return out


@hookimpl
def on_startup(store: Any, settings: Settings, role: str) -> None:
    if role != "web" and settings.demo_data:
        load_demo(store, settings)


@hookimpl
def register_panels() -> list[PanelSpec]:
    return panels.specs()


@hookimpl
def register_routes() -> list[RouteSpec]:
    return routes.routes()


@hookimpl
def register_commands(subparsers: Any) -> None:
    cli.add_commands(subparsers)


def _base_rows(ctx: Any) -> list[dict[str, Any]]:
    rows = []
    for b in ctx.store.entities(kind=R.KIND_BASE):
        if b.geometry and b.geometry.get("type") == "Point":
            lon, lat = b.geometry["coordinates"][:2]
            t = (b.properties or {}).get("base_type", "")
            rows.append({"id": b.id, "lon": lon, "lat": lat, "name": (b.name_en or b.name) if ctx.lang == "en" else b.name,
                         "info": R.label(R.BASE_TYPES, t, ctx.lang)})
    return rows


@hookimpl
def register_map_layers() -> list[MapLayerSpec]:
    return [MapLayerSpec(f"{R.PLUGIN}.bases", "宣教示范基地", "Demonstration bases", color="#f6d33c", rows=_base_rows)]
