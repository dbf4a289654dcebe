"""Scenario files that drive the demo simulator: the weather and a timeline of events.

```yaml
name: {zh: 液氯储罐泄漏演练, en: Chlorine tank leak drill}
loop_s: 1800                 # optional: the timeline restarts every loop_s seconds
weather: {wind_ms: 4.2, wind_from_deg: 100, sway_deg: 6, cloud_oktas: 5, air_temp_c: 24}
events:
  - {type: leak, tank: cp.tank.t101, at_s: 30, duration_s: 1200, rate_kg_s: 0.5, height_m: 2}
  - {type: wind_shift, at_s: 600, wind_from_deg: 120}
  - {type: wind_loss, at_s: 900, duration_s: 60}
  - {type: sensor_fault, sensor: cp.temp.t503, at: "14:30", duration_s: 30, value: .nan}
  - {type: vehicle_off_route, vehicle: cp.vehicle.v2, at_s: 300, duration_s: 120, offset_m: 150}
  - {type: vehicle_stop, vehicle: cp.vehicle.v3, at_s: 400, duration_s: 240}
```

``at_s`` counts seconds from the simulator's start (within each loop); ``at`` is a local
(Asia/Shanghai) wall-clock time ``HH:MM[:SS]`` that fires every day. Unknown fields, unknown
tanks or sensors and impossible values raise ``ConfigError`` with the file, line and field.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.api import ConfigError

from .twin import ParkModel

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "chemical_park" / "scenarios"
CST = timezone(timedelta(hours=8))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Weather(_Strict):
    wind_ms: float = Field(ge=0, le=60)
    wind_from_deg: float = Field(ge=0, le=360)
    sway_deg: float = Field(5.0, ge=0, le=90)
    cloud_oktas: float = Field(3.0, ge=0, le=8)
    air_temp_c: float = Field(22.0, ge=-40, le=50)


class _Timed(_Strict):
    at_s: float | None = Field(None, ge=0)
    at: str | None = Field(None, pattern=r"^\d{1,2}:\d{2}(:\d{2})?$")
    duration_s: float = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _one_time(self) -> _Timed:
        if (self.at_s is None) == (self.at is None):
            raise ValueError("give exactly one of at_s (seconds after start) or at (local HH:MM)")
        return self

    def start(self, t_rel: float, now: float) -> float | None:
        """Seconds since this event started (negative before), for scenario time ``t_rel`` and wall time ``now``."""
        if self.at_s is not None:
            return t_rel - self.at_s
        h, m, *s = (int(v) for v in re.split(":", self.at or "0:0"))
        local = datetime.fromtimestamp(now, CST)
        start = local.replace(hour=h, minute=m, second=s[0] if s else 0, microsecond=0)
        return now - start.timestamp()

    def active(self, t_rel: float, now: float) -> float | None:
        """Seconds into the event while it runs, else None."""
        since = self.start(t_rel, now)
        return since if since is not None and 0 <= since < self.duration_s else None


class Leak(_Timed):
    type: Literal["leak"]
    tank: str
    rate_kg_s: float = Field(gt=0, le=1000)
    height_m: float = Field(1.0, ge=0, le=200)
    ramp_s: float = Field(20.0, ge=0, le=3600)


class WindShift(_Timed):
    type: Literal["wind_shift"]
    wind_from_deg: float | None = Field(None, ge=0, le=360)
    wind_ms: float | None = Field(None, ge=0, le=60)
    cloud_oktas: float | None = Field(None, ge=0, le=8)


class WindLoss(_Timed):
    type: Literal["wind_loss"]


class SensorFault(_Timed):
    type: Literal["sensor_fault"]
    sensor: str
    value: float = float("nan")


class VehicleOffRoute(_Timed):
    type: Literal["vehicle_off_route"]
    vehicle: str
    offset_m: float = Field(120.0, ge=-5000, le=5000)


class VehicleStop(_Timed):
    type: Literal["vehicle_stop"]
    vehicle: str


Event = Annotated[Leak | WindShift | WindLoss | SensorFault | VehicleOffRoute | VehicleStop,
                  Field(discriminator="type")]


class Scenario(_Strict):
    name: dict[Literal["zh", "en"], str]
    loop_s: float | None = Field(None, gt=0)
    weather: Weather
    events: list[Event] = Field(default_factory=list)

    def leaks(self) -> list[Leak]:
        return [e for e in self.events if isinstance(e, Leak)]

    def check_against(self, model: ParkModel, path: Path | str = "") -> None:
        """Every tank and sensor an event names must exist in the twin (ConfigError otherwise)."""
        for i, ev in enumerate(self.events):
            if isinstance(ev, Leak):
                item = model.get(ev.tank)
                if item is None or item.kind != "tank":
                    raise ConfigError(f"leak names tank {ev.tank!r}, which the twin does not have",
                                      file=str(path), field=f"events.{i}.tank")
            if isinstance(ev, SensorFault):
                item = model.get(ev.sensor)
                if item is None or item.kind not in ("gas_detector", "process_sensor", "weather_station"):
                    raise ConfigError(f"sensor_fault names sensor {ev.sensor!r}, which the twin does not have",
                                      file=str(path), field=f"events.{i}.sensor")
            if isinstance(ev, (VehicleOffRoute, VehicleStop)):
                item = model.get(ev.vehicle)
                if item is None or item.kind != "hazmat_vehicle":
                    raise ConfigError(f"{ev.type} names vehicle {ev.vehicle!r}, which the twin does not have",
                                      file=str(path), field=f"events.{i}.vehicle")


def _line(text: str, loc: tuple) -> int | None:
    """Best-effort line of ``events.<i>`` in the YAML text (for error messages)."""
    if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
        seen = -1
        in_events = False
        for n, line in enumerate(text.splitlines(), 1):
            if line.startswith("events:"):
                in_events = True
                continue
            if in_events and line.lstrip().startswith("- "):
                seen += 1
                if seen == loc[1]:
                    return n
    if loc:
        for n, line in enumerate(text.splitlines(), 1):
            if re.match(rf"\s*{re.escape(str(loc[0]))}\s*:", line):
                return n
    return None


def load_scenario(path: Path, model: ParkModel | None = None) -> Scenario:
    """Parse and validate a scenario file; ConfigError names file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise ConfigError(f"no scenario file (known: {known})", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from exc
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("leak", "wind_shift", "wind_loss",
                                                                              "sensor_fault", "vehicle_off_route",
                                                                              "vehicle_stop")))
        raise ConfigError(err["msg"], file=str(path), line=_line(text, loc),
                          field=".".join(str(p) for p in loc)) from None
    if model is not None:
        sc.check_against(model, path)
    return sc


def scenario_path(name: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"scenario name {name!r} must be a file stem in {SCENARIO_DIR}", field="scenario")
    return SCENARIO_DIR / f"{name}.yaml"


