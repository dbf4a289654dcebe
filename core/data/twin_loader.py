"""Loads twin definitions (YAML or GeoJSON under twin_models/) into the store, idempotently."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.data import twin
from core.errors import ConfigError
from core.data.store import Store
from core.yamlfile import load_yaml


class SiteDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str
    name_en: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    zoom: float = 13.0
    properties: dict[str, Any] = Field(default_factory=dict)


class EntityDef(BaseModel):
    """An entity in a twin file; ``lon``/``lat`` is shorthand for a Point geometry."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    name_en: str = ""
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _geometry(self) -> EntityDef:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.geometry is not None and self.geometry.get("type") not in (
                "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"):
            raise ValueError(f"geometry.type must be a GeoJSON geometry type, got {self.geometry.get('type')!r}")
        return self

    def geojson(self) -> dict[str, Any] | None:
        if self.geometry is not None:
            return self.geometry
        if self.lon is not None and self.lat is not None:
            return {"type": "Point", "coordinates": [self.lon, self.lat]}
        return None


class RelationDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    kind: str
    target: str


class TwinFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: SiteDef | None = None
    entities: list[EntityDef] = Field(default_factory=list)
    relations: list[RelationDef] = Field(default_factory=list)


def parse_twin_file(path: Path) -> TwinFile:
    """Validate a twin file; ConfigError names file, line (YAML) or feature index (GeoJSON) and field."""
    if path.suffix.lower() in (".geojson", ".json"):
        return _parse_geojson(path)
    doc = load_yaml(path)
    return doc.validate(TwinFile, doc.data or {})


def _parse_geojson(path: Path) -> TwinFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if data.get("type") != "FeatureCollection":
        raise ConfigError("a GeoJSON twin file must be a FeatureCollection", file=str(path), field="type")
    entities = []
    for i, feat in enumerate(data.get("features", [])):
        props = dict(feat.get("properties") or {})
        try:
            entities.append(EntityDef.model_validate({
                "id": props.pop("id", feat.get("id")), "kind": props.pop("kind", None),
                "name": props.pop("name", None), "name_en": props.pop("name_en", ""),
                "geometry": feat.get("geometry"), "properties": props}))
        except Exception as exc:
            err = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
            fld = ".".join(str(p) for p in err["loc"])
            raise ConfigError(err["msg"], file=str(path), field=f"features.{i}.properties.{fld}") from exc
    site = data.get("twinboard:site")
    return TwinFile(site=SiteDef.model_validate(site) if site else None, entities=entities)


def load_twin_files(store: Store, paths: Sequence[Path], plugin: str = "") -> int:
    """Upsert every file's site, entities and relations; returns the number of entities."""
    count = 0
    for path in paths:
        tf = parse_twin_file(path)
        rows: list[Any] = []
        site_id = tf.site.id if tf.site else None
        if tf.site:
            rows.append(twin.Site(**tf.site.model_dump()))
        for e in tf.entities:
            rows.append(twin.Entity(id=e.id, site_id=site_id, kind=e.kind, name=e.name, name_en=e.name_en,
                                    plugin=plugin, geometry=e.geojson(), properties=e.properties))
        store.upsert(rows)
        if tf.relations:
            _upsert_relations(store, tf.relations)
        count += len(tf.entities)
    return count


def _upsert_relations(store: Store, relations: Sequence[RelationDef]) -> None:
    tbl = twin.Relation.__table__
    with store.engine.begin() as conn:
        conn.execute(store._insert(tbl).on_conflict_do_nothing(),
                     [{"source_id": r.source, "kind": r.kind, "target_id": r.target} for r in relations])
