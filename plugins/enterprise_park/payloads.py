"""MQTT topic layout and JSON payload schemas per device type; one message in, readings or a rejection out.

Topic: ``<prefix>/<park>/<device_type>/<device_id>/data`` (see docs/mqtt.md). A message is
accepted only when the device is registered in the twin with that park and type, the payload
is at most ``max_bytes`` long, parses as the type's schema (unknown fields rejected, values in
physical ranges, no NaN) and carries a device timestamp that is neither too old nor in the future.
Anything else is a :class:`Rejected` with a reason and the topic — never a reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from core.api import Reading



def _f(lo: float, hi: float) -> object:
    return Field(ge=lo, le=hi, allow_inf_nan=False)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ts: Annotated[float, _f(0, 4e9)] = Field(description="device time, epoch seconds (UTC)")
    seq: Annotated[int, Field(ge=0)] | None = Field(None, description="device message counter (optional)")


class MeterPayload(_Base):
    """智能电表 smart electricity meter."""

    power_kw: Annotated[float, _f(0, 5000)]
    energy_kwh: Annotated[float, _f(0, 1e9)]
    voltage_v: Annotated[float, _f(0, 1000)] | None = None
    current_a: Annotated[float, _f(0, 5000)] | None = None


class ElecFirePayload(_Base):
    """电气火灾监控探测器: residual current and cable temperature (GB 14287.2/.3 kinds)."""

    residual_ma: Annotated[float, _f(0, 5000)]
    cable_temp_c: Annotated[float, _f(-40, 250)]


class GasPayload(_Base):
    """可燃气体探测器, concentration in % of the lower explosive limit."""

    gas_lel_pct: Annotated[float, _f(0, 100)]
    fault: StrictBool = False


class SmokePayload(_Base):
    """独立式/联网烟感 smoke detector."""

    alarm: StrictBool
    obscuration_db_m: Annotated[float, _f(0, 20)] | None = None
    battery_pct: Annotated[float, _f(0, 100)] | None = None


#: device type → (schema, [(payload field, metric, unit)])
SCHEMAS: dict[str, tuple[type[_Base], tuple[tuple[str, str, str], ...]]] = {
    "meter": (MeterPayload, (("power_kw", "power_kw", "kW"), ("energy_kwh", "energy_kwh", "kWh"),
                             ("voltage_v", "voltage_v", "V"), ("current_a", "current_a", "A"))),
    "elec_fire": (ElecFirePayload, (("residual_ma", "residual_ma", "mA"), ("cable_temp_c", "cable_temp_c", "°C"))),
    "gas": (GasPayload, (("gas_lel_pct", "gas_lel_pct", "%LEL"),)),
    "smoke": (SmokePayload, (("alarm", "smoke_alarm", ""), ("obscuration_db_m", "smoke_obsc_db_m", "dB/m"),
                             ("battery_pct", "battery_pct", "%"))),
}
DEVICE_TYPES = tuple(SCHEMAS)
METRIC_UNITS = {m: u for _, fields in SCHEMAS.values() for _, m, u in fields}


@dataclass(frozen=True)
class Device:
    """A registered device: the twin entity its readings belong to, its park and type."""

    device_id: str
    entity_id: str
    park: str
    device_type: str


@dataclass(frozen=True)
class Rejected:
    """Why a message was not stored: kind is 'oversized', 'malformed' or 'unknown'."""

    kind: str
    topic: str
    reason: str


class Decoder:
    """Turns (topic, payload) into readings of registered devices, or a Rejected."""

    def __init__(self, devices: Mapping[str, Device], prefix: str = "twinboard/ep", max_bytes: int = 2048,
                 max_age_s: float = 7 * 86400, max_skew_s: float = 300) -> None:
        self.devices = devices
        self.prefix = prefix.strip("/")
        self._depth = len(self.prefix.split("/"))
        self.max_bytes, self.max_age_s, self.max_skew_s = max_bytes, max_age_s, max_skew_s

    def subscription(self) -> str:
        return f"{self.prefix}/+/+/+/data"

    @property
    def devices(self) -> dict[str, Device]:
        return self._devices

    @devices.setter
    def devices(self, devices: Mapping[str, Device]) -> None:
        # Another thread may be decoding meanwhile: the registry is replaced before the route caches, and
        # readers take a cache before the registry, so a route of the old registry only ever lands in an
        # old (discarded) cache.
        self._devices = dict(devices)
        self._routes: dict[str, tuple[str, type[_Base], tuple[tuple[str, str, str], ...]]] = {}
        self._routes_b: dict[bytes, tuple[str, Callable[[bytes], _Base], tuple[tuple[str, str, str], ...]]] = {}

    def route(self, topic: str) -> tuple[str, type[_Base], tuple[tuple[str, str, str], ...]] | Rejected:
        """(entity id, schema, fields) for a topic of a registered device; cached per topic."""
        routes = self._routes
        hit = routes.get(topic)
        if hit is not None:
            return hit
        devices = self._devices
        parts = topic.split("/")
        if len(parts) != self._depth + 4 or "/".join(parts[:self._depth]) != self.prefix or parts[-1] != "data":
            return Rejected("unknown", topic, "topic does not match <prefix>/<park>/<type>/<device>/data")
        park, dtype, device_id = parts[self._depth:self._depth + 3]
        dev = devices.get(device_id)
        if dev is None:
            return Rejected("unknown", topic, f"device {device_id!r} is not registered")
        if dev.device_type != dtype or dev.park.rsplit(".", 1)[-1] != park:
            return Rejected("unknown", topic, f"device {device_id!r} is registered as {dev.device_type} in "
                                              f"{dev.park}, not {dtype} in {park}")
        schema, fields = SCHEMAS[dtype]
        routes[topic] = hit = (dev.entity_id, schema, fields)
        return hit

    def decode(self, topic: str, payload: bytes, now: float | None = None) -> list[Reading] | Rejected:
        if len(payload) > self.max_bytes:
            return Rejected("oversized", topic, f"{len(payload)} bytes > {self.max_bytes}")
        route = self.route(topic)
        if isinstance(route, Rejected):
            return route
        entity_id, schema, fields = route
        try:
            values = schema.model_validate_json(payload).__dict__
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            return Rejected("malformed", topic, f"{where}: {err['msg']}")
        ts = values["ts"]
        now = time.time() if now is None else now
        if ts > now + self.max_skew_s or ts < now - self.max_age_s:
            return Rejected("malformed", topic, f"timestamp {ts:.0f} outside [now-{self.max_age_s:.0f}s, "
                                                f"now+{self.max_skew_s:.0f}s]")
        return [Reading(entity_id, metric, ts, float(v), unit)
                for fld, metric, unit in fields if (v := values[fld]) is not None]

    def decode_into(self, topic: bytes, payload: bytes, now: float, out: list[Reading]) -> Rejected | None:
        """:meth:`decode` on the raw topic bytes: the readings appended to ``out``; None when accepted,
        else the Rejected (``out`` untouched)."""
        rejected = self.decode_batch([topic], [payload], now, out)
        return rejected[0][1] if rejected else None

    def decode_batch(self, topics: Sequence[bytes], payloads: Sequence[bytes], now: float,
                     out: list[Reading]) -> list[tuple[int, Rejected]]:
        """:meth:`decode` for the ingest hot path, over the messages of one network read (topic bytes and
        payloads side by side): the readings of the accepted ones are appended to ``out``, in order; returns
        (index, Rejected) of the others, which add nothing to ``out``. Same checks, same readings as
        :meth:`decode`: the route is cached per topic bytes and the schema's pydantic validator called directly.
        """
        routes_b, max_bytes = self._routes_b, self.max_bytes      # the cache before the registry: see devices
        oldest, newest = now - self.max_age_s, now + self.max_skew_s
        append = out.append
        rejected: list[tuple[int, Rejected]] = []
        for i, (topic, payload) in enumerate(zip(topics, payloads)):
            n0 = len(out)
            try:
                if len(payload) > max_bytes:
                    rejected.append((i, self._oversized(topic, payload)))
                    continue
                hit = routes_b.get(topic)
                if hit is None:
                    hit = self._route_bytes(topic, routes_b)
                    if isinstance(hit, Rejected):
                        rejected.append((i, hit))
                        continue
                entity_id, validate, fields = hit
                try:
                    values = validate(payload).__dict__
                except ValidationError as exc:
                    err = exc.errors()[0]
                    where = ".".join(str(p) for p in err["loc"]) or "payload"
                    rejected.append((i, Rejected("malformed", topic_text(topic), f"{where}: {err['msg']}")))
                    continue
                ts = values["ts"]
                if ts > newest or ts < oldest:
                    rejected.append((i, Rejected("malformed", topic_text(topic), f"timestamp {ts:.0f} outside "
                                                 f"[now-{self.max_age_s:.0f}s, now+{self.max_skew_s:.0f}s]")))
                    continue
                for fld, metric, unit in fields:
                    v = values[fld]
                    if v is not None:
                        append(Reading(entity_id, metric, ts, float(v), unit))
            except Exception as exc:  # noqa: BLE001 - one odd message never costs the others theirs
                del out[n0:]
                rejected.append((i, Rejected("malformed", topic_text(topic),
                                             f"decoder error {exc.__class__.__name__}: {exc}")))
        return rejected

    def _oversized(self, topic: bytes, payload: bytes) -> Rejected:
        try:
            return Rejected("oversized", topic.decode("utf-8"), f"{len(payload)} bytes > {self.max_bytes}")
        except UnicodeDecodeError:
            return Rejected("malformed", repr(topic), "topic is not UTF-8")

    def _route_bytes(self, topic: bytes, routes_b: dict) -> tuple[str, Callable[[bytes], _Base],
                                                                   tuple[tuple[str, str, str], ...]] | Rejected:
        try:
            name = topic.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected("malformed", repr(topic), "topic is not UTF-8")
        route = self.route(name)
        if isinstance(route, Rejected):
            return route
        entity_id, schema, fields = route
        routes_b[topic] = hit = (entity_id, schema.__pydantic_validator__.validate_json, fields)
        return hit


def topic_text(topic: bytes) -> str:
    """A topic as logged: its text, or its repr when it is not UTF-8."""
    try:
        return topic.decode("utf-8")
    except UnicodeDecodeError:
        return repr(topic)


def devices_from_entities(entities: list) -> dict[str, Device]:
    """The registry from the twin's ``iot_device`` entities (``properties.device_id/device_type/park``)."""
    out = {}
    for e in entities:
        p = e.properties or {}
        if p.get("device_type") in SCHEMAS and p.get("device_id") and p.get("park"):
            out[p["device_id"]] = Device(p["device_id"], e.id, p["park"], p["device_type"])
    return out
