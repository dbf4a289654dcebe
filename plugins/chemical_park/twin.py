"""The park's typed twin: validates this plugin's twin files beyond the host's generic checks.

The host loader checks ids, kinds and geometry; here each kind's ``properties`` are checked
(a tank's substance must be in the library, a hazard source's grade must be 一级…四级 and its
enterprise must exist, a sensor needs a metric and limits, ...). A wrong field raises
``ConfigError`` naming the file, the entity and the field, so the plugin is marked failed
with that message instead of drawing something wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.api import ConfigError

from . import plume

TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "chemical_park"
TWIN_FILES = (TWIN_DIR / "park.geojson", TWIN_DIR / "park.yaml", TWIN_DIR / "operations.yaml")
GRADES = ("一级", "二级", "三级", "四级")


def _known_substance(v: str) -> str:
    """A substance of the chemical library (its error names the known ones)."""
    try:
        plume.substance(v)
    except plume.PlumeError as exc:
        raise ValueError(str(exc)) from None
    return v


#: A tank's substance or a vehicle's cargo: must be in the chemical library.
Substance = Annotated[str, AfterValidator(_known_substance)]


class _Props(BaseModel):
    model_config = ConfigDict(extra="allow")


class TankProps(_Props):
    substance: Substance
    capacity_m3: float = Field(gt=0)
    diameter_m: float = Field(gt=0, le=120)
    height_m: float = Field(gt=0, le=60)
    fill_pct: float = Field(50, ge=0, le=100)
    enterprise: str


class HazardProps(_Props):
    grade: Literal["一级", "二级", "三级", "四级"]
    enterprise: str
    tanks: list[str] = Field(min_length=1)
    r_value: float | None = None


class SensorProps(_Props):
    metric: Literal["gas_ppm", "lel_pct", "level_pct", "pressure_kpa", "temperature_c"]
    unit: str
    hi: float
    hihi: float
    range: tuple[float, float]
    tank: str | None = None
    substance: str | None = None
    base: float = 0.0
    noise: float = 0.0
    roc_per_min: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _limits(self) -> SensorProps:
        lo, hi = self.range
        if not lo < hi:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        if not self.hi < self.hihi:
            raise ValueError(f"hi ({self.hi}) must be below hihi ({self.hihi})")
        if self.substance is not None:
            try:
                plume.substance(self.substance)
            except plume.PlumeError as exc:
                raise ValueError(str(exc)) from None
        return self


class TargetProps(_Props):
    category: str
    population: int = Field(ge=0)


class BuildingProps(_Props):
    height_m: float = Field(gt=0, le=600)
    staff: int = Field(0, ge=0)


class RouteProps(_Props):
    corridor_m: float = Field(40.0, gt=0, le=1000)
    destination: str | None = None


class VehicleProps(_Props):
    plate: str
    cargo: Substance
    route: str
    speed_kmh: float = Field(20.0, gt=0, le=120)


class SupervisorProps(_Props):
    chem_background: bool
    on_duty: bool = False


class TeamProps(_Props):
    members: int = Field(ge=0)
    ready: bool = True


class PermitProps(_Props):
    permit_type: Literal["hot_work", "confined_space", "work_at_height", "blinding", "lifting", "temporary_power",
                         "earthwork", "road_break"]
    state: Literal["审批中", "作业中", "已关闭"]


class HiddenHazardProps(_Props):
    level: Literal["一般", "重大"]
    state: Literal["发现", "整改", "复核", "销号"]
    found: date
    deadline: date

    @model_validator(mode="after")
    def _order(self) -> HiddenHazardProps:
        if self.deadline < self.found:
            raise ValueError(f"deadline {self.deadline} is before found {self.found}")
        return self


class SceneModelProps(_Props):
    format: Literal["gltf", "3dtiles"]
    file: str = Field(pattern=r"^[A-Za-z0-9_./-]+$")
    applies_to: str | None = None

    @field_validator("file")
    @classmethod
    def _exists(cls, v: str) -> str:
        path = (TWIN_DIR / v).resolve()
        if ".." in Path(v).parts or not path.is_file():
            raise ValueError(f"model file {v!r} not found under {TWIN_DIR}")
        return v


_PROPS: dict[str, type[_Props]] = {"scene_model": SceneModelProps, "supervisor": SupervisorProps, "rescue_team": TeamProps,
                                   "work_permit": PermitProps, "hidden_hazard": HiddenHazardProps,"hazmat_route": RouteProps, "hazmat_vehicle": VehicleProps,"tank": TankProps, "hazard_source": HazardProps, "gas_detector": SensorProps,
                                   "process_sensor": SensorProps, "sensitive_target": TargetProps,
                                   "building": BuildingProps}


@dataclass(frozen=True)
class Item:
    """One entity as panels and the simulator use it."""

    id: str
    kind: str
    name: str
    name_en: str
    geometry: dict[str, Any] | None
    props: dict[str, Any]

    def label(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name

    @property
    def point(self) -> tuple[float, float] | None:
        """Point position, or the mean of the outer ring's vertices for areas and lines."""
        g = self.geometry
        if not g:
            return None
        if g["type"] == "Point":
            return float(g["coordinates"][0]), float(g["coordinates"][1])
        ring = g["coordinates"][0] if g["type"] == "Polygon" else g["coordinates"]
        pts = ring[:-1] if g["type"] == "Polygon" else ring
        return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


@dataclass
class ParkModel:
    items: dict[str, Item] = field(default_factory=dict)
    site: dict[str, Any] = field(default_factory=dict)

    _by_kind: dict[str, list[Item]] | None = field(default=None, repr=False)
    _by_tank: dict[str, list[Item]] | None = field(default=None, repr=False)

    def _index(self) -> None:
        by_kind: dict[str, list[Item]] = {}
        by_tank: dict[str, list[Item]] = {}
        for i in self.items.values():
            by_kind.setdefault(i.kind, []).append(i)
            if i.kind in ("gas_detector", "process_sensor") and i.props.get("tank"):
                by_tank.setdefault(i.props["tank"], []).append(i)
        self._by_kind, self._by_tank = by_kind, by_tank

    def of(self, *kinds: str) -> list[Item]:
        if self._by_kind is None:
            self._index()
        return [i for k in kinds for i in self._by_kind.get(k, [])]

    def get(self, entity_id: str) -> Item | None:
        return self.items.get(entity_id)

    @property
    def sensors(self) -> list[Item]:
        return self.of("gas_detector", "process_sensor")

    def sensors_of_tank(self, tank_id: str) -> list[Item]:
        if self._by_tank is None:
            self._index()
        return self._by_tank.get(tank_id, [])

    @property
    def weather_id(self) -> str:
        ws = self.of("weather_station")
        return ws[0].id if ws else ""

    @property
    def center(self) -> tuple[float, float]:
        return float(self.site.get("lon", 121.4886)), float(self.site.get("lat", 28.6571))


def _raw_entities(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".geojson", ".json"):
        data = json.loads(text)
        out = []
        for f in data.get("features", []):
            p = dict(f.get("properties") or {})
            out.append({"id": p.pop("id", None), "kind": p.pop("kind", None), "name": p.pop("name", ""),
                        "name_en": p.pop("name_en", ""), "geometry": f.get("geometry"), "properties": p})
        return data.get("twinboard:site") or {}, out
    data = yaml.safe_load(text) or {}
    ents = []
    for e in data.get("entities") or []:
        e = dict(e)
        if "lon" in e and "lat" in e:
            e["geometry"] = {"type": "Point", "coordinates": [e.pop("lon"), e.pop("lat")]}
        ents.append(e)
    return data.get("site") or {}, ents


def _line_of(path: Path, entity_id: str) -> int | None:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if f"id: {entity_id}" in line or f'"id": "{entity_id}"' in line:
            return n
    return None


def load_model(paths: tuple[Path, ...] = TWIN_FILES) -> ParkModel:
    """Parse and validate the twin files into a ParkModel (ConfigError on the first wrong field)."""
    return _load(tuple(Path(p) for p in paths), tuple(Path(p).stat().st_mtime_ns for p in paths))


@lru_cache(maxsize=8)
def _load(paths: tuple[Path, ...], _mtimes: tuple[int, ...]) -> ParkModel:
    model = ParkModel()
    where: dict[str, Path] = {}
    for path in paths:
        try:
            site, ents = _raw_entities(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read twin file: {exc}", file=str(path)) from exc
        if site:
            model.site = site
        for e in ents:
            eid, kind = str(e.get("id")), str(e.get("kind"))
            props = e.get("properties") or {}
            cls = _PROPS.get(kind)
            if cls is not None:
                try:
                    props = cls.model_validate(props).model_dump()
                except ValidationError as exc:
                    err = exc.errors()[0]
                    fld = ".".join(str(p) for p in err["loc"])
                    raise ConfigError(f"entity {eid!r} ({kind}): {err['msg']}", file=str(path),
                                      line=_line_of(path, eid),
                                      field=f"properties.{fld}" if fld else "properties") from None
            model._by_kind = model._by_tank = None
            model.items[eid] = Item(eid, kind, str(e.get("name", "")), str(e.get("name_en", "")),
                                    e.get("geometry"), props)
            where[eid] = path
    # cross references
    for item in model.items.values():
        refs = []
        if item.kind in ("tank", "hazard_source") or (item.kind == "building" and item.props.get("enterprise")):
            refs.append(("enterprise", item.props.get("enterprise"), "enterprise"))
        if item.kind == "hazard_source":
            refs += [("tanks", t, "tank") for t in item.props.get("tanks", [])]
        if item.kind in ("gas_detector", "process_sensor") and item.props.get("tank"):
            refs.append(("tank", item.props["tank"], "tank"))
        if item.kind == "hazmat_vehicle":
            refs.append(("route", item.props["route"], "hazmat_route"))
        if item.kind == "hazmat_route" and (item.geometry or {}).get("type") != "LineString":
            raise ConfigError(f"entity {item.id!r}: a hazmat route needs a LineString geometry",
                              file=str(where[item.id]), line=_line_of(where[item.id], item.id), field="geometry")
        if item.kind in ("closed_zone", "hazmat_parking", "loading_bay") and (item.geometry or {}).get("type") != "Polygon":
            raise ConfigError(f"entity {item.id!r}: a {item.kind} needs a Polygon geometry",
                              file=str(where[item.id]), line=_line_of(where[item.id], item.id), field="geometry")
        for fld, ref, kind in refs:
            target = model.items.get(ref)
            if target is None or target.kind != kind:
                path = where[item.id]
                raise ConfigError(f"entity {item.id!r}: {fld} {ref!r} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} of this twin",
                                  file=str(path), line=_line_of(path, item.id), field=f"properties.{fld}")
        if item.kind in ("tank", "sensitive_target", "gas_detector", "process_sensor", "weather_station",
                         "hazard_source") and (item.point is None or not all(math.isfinite(v) for v in item.point)):
            raise ConfigError(f"entity {item.id!r} ({item.kind}) needs a position", file=str(where[item.id]),
                              field="geometry")
    return model


def hazard_inventory(model: ParkModel, hazard: Item) -> list[tuple[str, float]]:
    """(substance, tonnes) pairs of a hazard source's tanks."""
    out = []
    for tid in hazard.props.get("tanks", []):
        t = model.items[tid].props
        sub = plume.substance(t["substance"])
        out.append((t["substance"], float(t.get("inventory_t") or t["capacity_m3"] * sub.liquid_density * 0.85 / 1000)))
    return out


def computed_grade(model: ParkModel, hazard: Item) -> tuple[float, str]:
    """GB 18218-2018 grade from the inventory (flammables use their own Q and β)."""
    people = int(hazard.props.get("people_500m", 0))
    alpha = 2.0 if people >= 100 else 1.5 if people >= 50 else 1.2 if people >= 30 else 1.0 if people >= 1 else 0.5
    r = 0.0
    for key, q in hazard_inventory(model, hazard):
        s = plume.substance(key)
        r += s.beta * q / s.critical_t
    r *= alpha
    return r, "一级" if r >= 100 else "二级" if r >= 50 else "三级" if r >= 10 else "四级"
