"""The demo's source: every sensor of the park twin, driven by a scenario file.

Normal operation: each sensor wanders around its ``base`` value. A scripted leak at a tank
publishes the incident's source term (``release_kg_s`` on the tank: in a real park the duty
officer enters or confirms it), lowers the tank's level, pressure and temperature (flashing
liquid), and every gas detector of that substance reads the Gaussian plume at its position
under the current simulated wind (plus a near-field cloud around the leaking tank), clipped
to the detector's range. The weather mast publishes wind speed, direction and cloud cover,
except while a ``wind_loss`` event runs.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.api import Reading, SourceContext

from . import plume
from .closed import Local, along, length
from .scenario import Leak, Scenario, SensorFault, VehicleOffRoute, VehicleStop, WindLoss, WindShift
from .twin import Item, ParkModel

#: metric of the incident's source term, on the tank entity
RELEASE_METRIC = "release_kg_s"
HEIGHT_METRIC = "release_height_m"
WIND_METRICS = ("wind_ms", "wind_dir_deg", "cloud_oktas", "air_temp_c")


@dataclass
class WeatherNow:
    wind_ms: float
    wind_from_deg: float
    cloud_oktas: float
    air_temp_c: float
    missing: bool = False


@dataclass
class Simulator:
    model: ParkModel
    scenario: Scenario
    seed: int = 7
    t0: float = field(default_factory=time.time)
    surface: str = "rural"
    stability: str = "auto"

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.state: dict[str, float] = {}
        self.lost_kg: dict[str, float] = {}
        self.last_t: float | None = None
        self.loop_index = 0
        self.local = Local(*self.model.center)
        self.routes = {r.id: [self.local.xy(*c) for c in r.geometry["coordinates"]]
                       for r in self.model.of("hazmat_route") if r.geometry}
        self.counters: dict[tuple[str, str], float] = {}
        self.dropped_nonfinite = 0

    # -- scenario clock ---------------------------------------------------------------------
    def rel(self, now: float) -> float:
        t = now - self.t0
        loop = self.scenario.loop_s
        if loop:
            idx = int(t // loop)
            if idx != self.loop_index:          # a new loop: tanks refilled, state reset
                self.loop_index = idx
                self.lost_kg.clear()
                self.state.clear()
            return t - idx * loop
        return t

    def weather(self, t: float, now: float) -> WeatherNow:
        w = self.scenario.weather
        speed, frm, cloud = w.wind_ms, w.wind_from_deg, w.cloud_oktas
        missing = False
        for ev in self.scenario.events:
            if ev.active(t, now) is None:
                continue
            if isinstance(ev, WindShift):
                speed = ev.wind_ms if ev.wind_ms is not None else speed
                frm = ev.wind_from_deg if ev.wind_from_deg is not None else frm
                cloud = ev.cloud_oktas if ev.cloud_oktas is not None else cloud
            elif isinstance(ev, WindLoss):
                missing = True
        # slow, deterministic sway (so neighbouring polls agree) plus a little noise
        frm = (frm + w.sway_deg * math.sin(2 * math.pi * t / 173.0) + self.rng.gauss(0, 1.0)) % 360
        speed = max(0.0, speed * (1 + 0.08 * math.sin(2 * math.pi * t / 61.0)) + self.rng.gauss(0, 0.05))
        return WeatherNow(round(speed, 2), round(frm, 1), cloud, w.air_temp_c, missing)

    def active_leaks(self, t: float, now: float) -> list[tuple[Leak, float, float]]:
        """(leak, seconds into it, current rate kg/s) for the leaks running now."""
        out = []
        for ev in self.scenario.leaks():
            since = ev.active(t, now)
            if since is not None:
                ramp = min(1.0, since / ev.ramp_s) if ev.ramp_s else 1.0
                out.append((ev, since, ev.rate_kg_s * ramp))
        return out

    def plume_for(self, leak: Leak, rate: float, wx: WeatherNow, now: float) -> plume.Plume | None:
        tank = self.model.items[leak.tank]
        sub = plume.substance(tank.props["substance"])
        if wx.wind_ms < plume.MIN_WIND_MS or rate <= 0:
            return None
        lon, lat = tank.point
        cls = self.stability if self.stability != "auto" else plume.stability_at(now, lon, lat, wx.wind_ms,
                                                                                 wx.cloud_oktas)
        chem = sub if isinstance(sub, plume.Chemical) else plume.Chemical(
            sub.key, sub.name_zh, sub.name_en, sub.key, sub.mw, (1e9, 1e9, 1e9), sub.critical_t, 1, sub.liquid_density)
        return plume.Plume(chem, rate, wx.wind_ms, wx.wind_from_deg, cls, self.surface, height_m=leak.height_m,
                           lon=lon, lat=lat)

    # -- one poll -------------------------------------------------------------------------
    def readings(self, now: float) -> list[Reading]:
        t = self.rel(now)
        dt = 0.0 if self.last_t is None or t < self.last_t else t - self.last_t
        self.last_t = t
        wx = self.weather(t, now)
        out: list[Reading] = []
        ws = self.model.weather_id
        if ws and not wx.missing:
            out += [Reading(ws, "wind_ms", now, wx.wind_ms, "m/s"), Reading(ws, "wind_dir_deg", now, wx.wind_from_deg, "°"),
                    Reading(ws, "cloud_oktas", now, wx.cloud_oktas, "okta"),
                    Reading(ws, "air_temp_c", now, round(wx.air_temp_c + self.rng.gauss(0, 0.1), 2), "°C")]
        leaks = self.active_leaks(t, now)
        plumes: list[tuple[Leak, float, float, plume.Plume | None]] = []
        for leak, since, rate in leaks:
            self.lost_kg[leak.tank] = self.lost_kg.get(leak.tank, 0.0) + rate * dt
            plumes.append((leak, since, rate, self.plume_for(leak, rate, wx, now)))
        leaking = {lk.tank for lk, *_ in leaks}
        for tank in self.model.of("tank"):
            rate = next((r for lk, _, r, _ in plumes if lk.tank == tank.id), 0.0)
            if rate > 0 or self.state.get(f"release:{tank.id}", 0.0) > 0:
                out.append(Reading(tank.id, RELEASE_METRIC, now, round(rate, 4), "kg/s"))
                lk = next((lk for lk, *_ in plumes if lk.tank == tank.id), None)
                if lk is not None:
                    out.append(Reading(tank.id, HEIGHT_METRIC, now, lk.height_m, "m"))
                self.state[f"release:{tank.id}"] = rate
        out += self._vehicles(t, now)
        out += self._people(now, dt)
        faults = {ev.sensor: ev.value for ev in self.scenario.events
                  if isinstance(ev, SensorFault) and ev.active(t, now) is not None}
        for s in self.model.sensors:
            value = self._sensor(s, plumes, leaking)
            if s.id in faults:
                value = faults[s.id]
            out.append(Reading(s.id, s.props["metric"], now, value, s.props.get("unit", "")))
        return out

    DWELL_S = 60.0

    def vehicle_s(self, v: Item, t: float) -> tuple[float, float]:
        """(arc length along the route, speed km/h) at scenario time t: out, dwell at the destination, back, dwell."""
        pts = self.routes[v.props["route"]]
        total = length(pts)
        speed = float(v.props.get("speed_kmh", 20.0)) / 3.6
        leg = total / speed
        period = 2 * (leg + self.DWELL_S)
        tau = (t + float(v.props.get("phase", 0.0)) * period) % period
        if tau < leg:
            return speed * tau, speed * 3.6
        if tau < leg + self.DWELL_S:
            return total, 0.0
        if tau < 2 * leg + self.DWELL_S:
            return total - speed * (tau - leg - self.DWELL_S), speed * 3.6
        return 0.0, 0.0

    def _vehicles(self, t: float, now: float) -> list[Reading]:
        out = []
        for v in self.model.of("hazmat_vehicle"):
            pts = self.routes.get(v.props["route"])
            if not pts:
                continue
            s, kmh = self.vehicle_s(v, t)
            offset = 0.0
            for ev in self.scenario.events:
                since = ev.active(t, now)
                if since is None or getattr(ev, "vehicle", None) != v.id:
                    continue
                if isinstance(ev, VehicleStop):
                    s, _ = self.vehicle_s(v, t - since)
                    kmh = 0.0
                elif isinstance(ev, VehicleOffRoute):
                    offset = ev.offset_m * min(1.0, since / 20.0)
            (x, y), (dx, dy) = along(pts, s)
            x, y = x - dy * offset, y + dx * offset          # to the left of the route as drawn
            lon, lat = self.local.lonlat(x, y)
            out += [Reading(v.id, "lon", now, round(lon, 7), "°"), Reading(v.id, "lat", now, round(lat, 7), "°"),
                    Reading(v.id, "speed_kmh", now, round(kmh + (self.rng.gauss(0, 0.5) if kmh else 0.0), 1), "km/h")]
        return out

    def _people(self, now: float, dt: float) -> list[Reading]:
        """People per functional zone (around each zone's ``people``) and cumulative gate counts."""
        out = []
        for z in self.model.of("zone"):
            base = float(z.props.get("people", 0))
            key = (z.id, "people")
            prev = self.counters.get(key, base)
            value = max(0.0, prev + 0.2 * (base - prev) + self.rng.gauss(0, max(base * 0.02, 0.5)))
            self.counters[key] = value
            out.append(Reading(z.id, "people", now, round(value), "人"))
        for g in self.model.of("gate"):
            use = str(g.props.get("use", ""))
            for metric, per_min in (("people_in", 6.0 if "people" in use else 0.3),
                                    ("people_out", 5.5 if "people" in use else 0.3),
                                    ("vehicles_in", 1.2 if "vehicle" in use else 0.1),
                                    ("vehicles_out", 1.1 if "vehicle" in use else 0.1)):
                key = (g.id, metric)
                lam = per_min * dt / 60.0
                n = sum(1 for _ in range(int(lam * 3) + 3) if self.rng.random() < lam / (int(lam * 3) + 3))
                self.counters[key] = self.counters.get(key, 0.0) + n
                out.append(Reading(g.id, metric, now, self.counters[key], "次"))
        return out

    def _sensor(self, s: Item, plumes: list, leaking: set[str]) -> float:
        p = s.props
        base, noise = float(p.get("base", 0.0)), float(p.get("noise", 0.0))
        prev = self.state.get(s.id, base)
        value = prev + 0.3 * (base - prev) + self.rng.gauss(0, noise * 0.5)
        self.state[s.id] = value
        metric = p["metric"]
        tank_id = p.get("tank")
        lo, hi = p["range"]
        if metric in ("gas_ppm", "lel_pct"):
            for leak, since, rate, pl in plumes:
                tank = self.model.items[leak.tank]
                sub = plume.substance(tank.props["substance"])
                if metric == "gas_ppm" and p.get("substance") != sub.key:
                    continue
                if metric == "lel_pct" and not isinstance(sub, plume.Flammable):
                    continue
                ppm = 0.0
                if pl is not None:
                    x, y = pl.to_xy(*s.point)
                    ppm = float(pl.ppm(max(float(x), 15.0), float(y))) if float(x) > 0 else 0.0
                if tank_id == leak.tank:  # the vapour cloud around the leaking tank itself
                    ppm += 40.0 * float(p["hihi"]) * min(1.0, since / 20.0) * min(1.0, rate)
                value += ppm / (sub.lel_vol_pct * 100.0) if metric == "lel_pct" else ppm
            return round(min(max(value, lo), hi), 3)
        if tank_id in leaking:
            leak, since, rate, _ = next(x for x in plumes if x[0].tank == tank_id)
            tank = self.model.items[tank_id].props
            sub = plume.substance(tank["substance"])
            if metric == "level_pct":
                mass0 = tank["capacity_m3"] * sub.liquid_density
                value = base - 100.0 * self.lost_kg.get(tank_id, 0.0) / mass0
            elif metric == "pressure_kpa":
                value = base * (1 - 0.35 * (1 - math.exp(-since / 180.0)))
            elif metric == "temperature_c":
                value = base - 15.0 * (1 - math.exp(-since / 200.0))
        return round(min(max(value, lo), hi), 3)

    def poll(self, ctx: SourceContext | None = None) -> Iterable[Reading]:
        """Readings for now, without non-finite values: the host's store refuses a batch holding a NaN
        (NOT NULL), so a NaN sensor is left out and shows as "no data" once its last value is stale;
        out-of-range values do go through and raise the fault rule."""
        out = []
        for r in self.readings(time.time()):
            if math.isfinite(r.value):
                out.append(r)
            else:
                self.dropped_nonfinite += 1
        return out
