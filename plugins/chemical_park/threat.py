"""The live situation: which tank is releasing, the wind now, the plume and who is inside each zone.

Read from the store on every render. Never guesses: with the wind missing, stale, NaN or calm,
or a substance the toxic model does not cover, it returns a ``Situation`` whose ``status``
says why and whose ``plume`` is None, so no zone is drawn.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.api import Store

from . import plume
from .simulator import HEIGHT_METRIC, RELEASE_METRIC
from .twin import Item, ParkModel

PEOPLE_KINDS = ("sensitive_target", "building")


@dataclass
class Affected:
    item: Item
    level: str
    ppm: float
    people: int
    crosswind_deg: float
    x_m: float = 0.0

    def eta(self, p: plume.Plume, since: float | None) -> float | None:
        """When the plume front reaches it (release start + travel time x/u)."""
        return None if since is None else since + max(self.x_m, 0.0) / p.wind_ms


@dataclass
class Situation:
    status: str                       # "none", "release", "no_wind", "calm", "not_toxic", "bad_input"
    message: tuple[str, str] = ("", "")
    tank: Item | None = None
    rate_kg_s: float = 0.0
    since: float | None = None
    wind: dict[str, float] = field(default_factory=dict)
    wind_ts: float | None = None
    stability: str = ""
    plume: plume.Plume | None = None
    zones: list[plume.ThreatZone] = field(default_factory=list)
    affected: list[Affected] = field(default_factory=list)
    data_time: float | None = None

    def people_in(self, level: str) -> int:
        return sum(a.people for a in self.affected if a.level == level)


def _fresh(lv: Any, now: float, max_age: float) -> bool:
    return lv is not None and math.isfinite(lv.value) and now - lv.ts <= max_age


def _avg_wind(speeds: np.ndarray, dirs: np.ndarray) -> tuple[float, float]:
    """Scalar-mean speed and vector-mean direction (where the wind comes from, degrees)."""
    rad = np.radians(dirs)
    e, n = float(np.mean(speeds * np.sin(rad))), float(np.mean(speeds * np.cos(rad)))
    return float(np.mean(speeds)), float(np.degrees(np.arctan2(e, n)) % 360.0)


def current_wind(store: Store, model: ParkModel, now: float, max_age: float,
                 avg_s: float = 0.0) -> tuple[dict[str, float], float | None]:
    """Fresh, finite, in-range wind, averaged over the last ``avg_s`` seconds (empty dict when missing).

    Dispersion models take an averaged wind (ALOHA: the mean over the averaging time); the
    newest readings must be fresh, and bad samples (NaN, out of range) are left out of the mean.
    """
    latest = {lv.metric: lv for lv in store.latest(entity_ids=[model.weather_id])}
    speed, direction = latest.get("wind_ms"), latest.get("wind_dir_deg")
    if not (_fresh(speed, now, max_age) and _fresh(direction, now, max_age)):
        return {}, max((lv.ts for lv in latest.values()), default=None)
    if not (0 <= speed.value <= 60 and 0 <= direction.value <= 360):
        return {}, speed.ts
    out = {"wind_ms": speed.value, "wind_from_deg": direction.value}
    if avg_s > 0:
        sp = dict(store.series(model.weather_id, "wind_ms", since=now - avg_s))
        dr = dict(store.series(model.weather_id, "wind_dir_deg", since=now - avg_s))
        common = [t for t in sp if t in dr and math.isfinite(sp[t]) and math.isfinite(dr[t])
                  and 0 <= sp[t] <= 60 and 0 <= dr[t] <= 360]
        if common:
            out["wind_ms"], out["wind_from_deg"] = _avg_wind(np.array([sp[t] for t in common]),
                                                             np.array([dr[t] for t in common]))
            out["samples"] = float(len(common))
    cloud = latest.get("cloud_oktas")
    if _fresh(cloud, now, max_age) and 0 <= cloud.value <= 8:
        out["cloud_oktas"] = cloud.value
    return out, min(speed.ts, direction.ts)


def situation(store: Store, model: ParkModel, settings: Any, now: float | None = None) -> Situation:
    now = time.time() if now is None else now
    max_age = float(getattr(settings, "stale_after_s", 30.0))
    tanks = model.of("tank")
    releases = [(lv, model.items[lv.entity_id]) for lv in store.latest(entity_ids=[t.id for t in tanks],
                                                                         metric=RELEASE_METRIC)]
    live = [(lv, t) for lv, t in releases if _fresh(lv, now, max_age) and lv.value > 0]
    wind, wind_ts = current_wind(store, model, now, max_age, float(getattr(settings, "wind_avg_s", 0.0)))
    if not live:
        return Situation("none", ("无有毒气体泄漏", "No toxic release"), wind=wind, wind_ts=wind_ts,
                         data_time=wind_ts)
    lv, tank = max(live, key=lambda p: p[0].value)
    since = _release_start(store, tank.id, now, max_age)
    sit = Situation("release", tank=tank, rate_kg_s=lv.value, since=since, wind=wind, wind_ts=wind_ts,
                    data_time=lv.ts)
    sub = plume.substance(tank.props["substance"])
    if isinstance(sub, plume.Flammable):
        sit.status = "not_toxic"
        sit.message = (f"{sub.name_zh}为易燃液体: 本模型只算有毒气体扩散, 不绘制威胁区(火灾/爆炸模型未包含)",
                       f"{sub.name_en} is flammable: this model covers toxic dispersion only; no zones drawn")
        return sit
    if not wind:
        sit.status = "no_wind"
        sit.message = ("风速/风向数据缺失或过期: 不绘制威胁区", "Wind reading missing or stale: no threat zones drawn")
        return sit
    if wind["wind_ms"] < plume.MIN_WIND_MS:
        sit.status = "calm"
        sit.message = (f"静风 ({wind['wind_ms']:.1f} m/s < 1 m/s): 高斯烟羽模型不适用, 不绘制威胁区",
                       f"Calm ({wind['wind_ms']:.1f} m/s < 1 m/s): the Gaussian plume does not apply")
        return sit
    lon, lat = tank.point
    heights = store.latest(entity_ids=[tank.id], metric=HEIGHT_METRIC)
    height = heights[0].value if heights and math.isfinite(heights[0].value) else 1.0
    cloud = wind.get("cloud_oktas", float(getattr(settings, "default_cloud_oktas", 4.0)))
    try:
        cls = getattr(settings, "stability", "auto")
        if cls == "auto":
            cls = plume.stability_at(now, lon, lat, wind["wind_ms"], cloud)
        sit.stability = cls
        sit.plume = plume.Plume(sub, lv.value, wind["wind_ms"], wind["wind_from_deg"], cls,
                                getattr(settings, "surface", "rural"), height_m=height, lon=lon, lat=lat)
    except plume.PlumeError as exc:
        sit.status = "bad_input"
        sit.message = (f"模型输入无效: {exc}", f"Invalid model input: {exc}")
        return sit
    sit.zones = plume.threat_zones(sit.plume)
    sit.affected = affected(model, sit.plume)
    return sit


def _release_start(store: Store, tank_id: str, now: float, max_gap: float = 30.0) -> float | None:
    """Start of the current run of positive source-term readings (a gap longer than ``max_gap`` ends a run)."""
    pts = store.series(tank_id, RELEASE_METRIC, since=now - 6 * 3600)
    start = None
    for ts, v in reversed(pts):
        if v <= 0 or (start is not None and start - ts > max_gap):
            break
        start = ts
    return start


def affected(model: ParkModel, p: plume.Plume) -> list[Affected]:
    """Sensitive targets, buildings and facilities inside a zone, most severe first."""
    items = [i for i in model.items.values()
             if i.kind in PEOPLE_KINDS + ("medical_station", "fire_station", "gate") and i.point]
    lons = [i.point[0] for i in items]
    lats = [i.point[1] for i in items]
    ppm = p.ppm_at(lons, lats)
    xs, _ = p.to_xy(lons, lats)
    out = []
    order = {"AEGL-3": 0, "AEGL-2": 1, "AEGL-1": 2}
    for item, c, x in zip(items, ppm, xs):
        level = next((lv for lv, idx, _ in plume.LEVELS if c >= p.chemical.aegl[idx]), None)
        if level is None:
            continue
        people = int(item.props.get("population", item.props.get("staff", 0)) or 0)
        cw = plume.evacuation(p, *item.point)["crosswind"]
        out.append(Affected(item, level, float(c), people, cw, float(x)))
    out.sort(key=lambda a: (order[a.level], a.item.kind != "sensitive_target", -a.ppm))
    return out


def receptor_series(store: Store, model: ParkModel, settings: Any, lon: float, lat: float,
                    since: float, now: float | None = None) -> tuple[list[float], list[float], str]:
    """Model concentration (ppm) at a point over time, from the stored wind and source-term series.

    Each wind sample uses the release rate of ``x/u`` seconds earlier (the plume's travel time).
    Returns (times, ppm, chemical key) — empty when there was no release in the window.
    """
    now = time.time() if now is None else now
    wid = model.weather_id
    avg_s = float(getattr(settings, "wind_avg_s", 0.0))
    speeds = dict(store.series(wid, "wind_ms", since=since - avg_s))
    dirs = dict(store.series(wid, "wind_dir_deg", since=since - avg_s))
    clouds = store.series(wid, "cloud_oktas", since=since)
    cloud_default = float(getattr(settings, "default_cloud_oktas", 4.0))
    best: tuple[Item, list[tuple[float, float]]] | None = None
    for t in model.of("tank"):
        pts = store.series(t.id, RELEASE_METRIC, since=since - 3600)
        if pts and any(v > 0 for _, v in pts) and (best is None or pts[-1][0] > best[1][-1][0]):
            best = (t, pts)
    if best is None:
        return [], [], ""
    tank, rel = best
    sub = plume.substance(tank.props["substance"])
    if not isinstance(sub, plume.Chemical):
        return [], [], sub.key
    heights = store.latest(entity_ids=[tank.id], metric=HEIGHT_METRIC)
    height = heights[0].value if heights and math.isfinite(heights[0].value) else 1.0
    times, values = [], []
    rel_t = [ts for ts, _ in rel]
    common = sorted(t for t in set(speeds) & set(dirs) if math.isfinite(speeds[t]) and math.isfinite(dirs[t]))
    if not common:
        return [], [], sub.key
    ts_arr = np.array(common)
    sp = np.array([speeds[t] for t in common])
    rad = np.radians(np.array([dirs[t] for t in common]))
    # running means over the averaging window (cumulative sums: one pass)
    cs = [np.concatenate(([0.0], np.cumsum(v))) for v in (sp, sp * np.sin(rad), sp * np.cos(rad))]
    first = np.searchsorted(ts_arr, ts_arr - avg_s, side="left") if avg_s > 0 else np.arange(len(ts_arr))
    idx = np.arange(1, len(ts_arr) + 1)
    cnt = idx - first
    mean_sp = (cs[0][idx] - cs[0][first]) / cnt
    mean_dir = np.degrees(np.arctan2(cs[1][idx] - cs[1][first], cs[2][idx] - cs[2][first])) % 360.0
    cloud_i = 0
    for ts, u, d in zip(common, mean_sp, mean_dir):
        u, d = float(u), float(d)
        if ts < since:
            continue
        while cloud_i + 1 < len(clouds) and clouds[cloud_i + 1][0] <= ts:
            cloud_i += 1
        cloud = clouds[cloud_i][1] if clouds else cloud_default
        if u < plume.MIN_WIND_MS:
            times.append(ts)
            values.append(float("nan"))
            continue
        p0 = plume.Plume(sub, 1.0, u, d, "D", lon=tank.point[0], lat=tank.point[1])
        x, _ = p0.to_xy(lon, lat)
        j = bisect.bisect_right(rel_t, ts - max(float(x), 0.0) / u) - 1
        rate = rel[j][1] if j >= 0 else 0.0
        if rate <= 0:
            times.append(ts)
            values.append(0.0)
            continue
        cls = getattr(settings, "stability", "auto")
        if cls == "auto":
            cls = plume.stability_at(ts, tank.point[0], tank.point[1], u, cloud)
        p = plume.Plume(sub, rate, u, d, cls, getattr(settings, "surface", "rural"),
                        height_m=height, lon=tank.point[0], lat=tank.point[1])
        times.append(ts)
        values.append(float(p.ppm_at(lon, lat)))
    return times, values, sub.key
