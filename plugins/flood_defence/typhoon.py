"""Typhoons: the CMA best-track parser, the GB/T 19201-2006 intensity class, wind circles, cone, arrival time.

CMA best-track files (tcdata.typhoon.org.cn) hold one block per cyclone:

    66666 0000   41 0009 1909 0 6 Lekima                         20200112
    2019080418 1 160 1318 1000      15
    YYYYMMDDHH I LAT LONG PRES      WND  [OWD]

Header: ``66666``, international id, number of data lines, serial number, Chinese id, end flag,
hours between lines, English name, dataset date. Data: UTC time, intensity category (0..6, 9),
latitude and longitude in 0.1°, central pressure (hPa), 2-minute mean maximum wind (m/s) and,
in newer files, the 2-minute mean wind of the official bulletin. Every data line must have its wind
column. ``parse_best_track`` raises a ``BestTrackError`` naming file, line and field; ``strict=False``
collects those errors and parses the rest. A yearly file (``CH2019BST.txt``) holds every storm of
the year; ``Storm.matches`` finds one by number or name.

Category 9 means the cyclone has become extratropical (变性): ``point_class`` gives it the class
``ET``, whatever its wind; the other points get their GB/T 19201-2006 class from the wind.

Forecast bulletins add, per forecast point, the radii (km) of the 7-, 10- and 12-level winds
per quadrant (NE, SE, SW, NW); ``WindRadii`` holds them and ``wind_circle`` turns them into a
polygon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

EARTH_R_KM = 6371.0088
QUADRANTS = ("NE", "SE", "SW", "NW")

#: GB/T 19201-2006 热带气旋等级: (lower bound of 2-min mean max wind in m/s, code, zh, en, CMA category)
GBT_19201_CLASSES: tuple[tuple[float, str, str, str, int], ...] = (
    (51.0, "SuperTY", "超强台风", "Super typhoon", 6),
    (41.5, "STY", "强台风", "Severe typhoon", 5),
    (32.7, "TY", "台风", "Typhoon", 4),
    (24.5, "STS", "强热带风暴", "Severe tropical storm", 3),
    (17.2, "TS", "热带风暴", "Tropical storm", 2),
    (10.8, "TD", "热带低压", "Tropical depression", 1),
)
CMA_CATEGORIES = {0: "weaker than TD or unknown", 1: "TD", 2: "TS", 3: "STS", 4: "TY", 5: "STY",
                  6: "SuperTY", 9: "extratropical"}
#: (code, zh, en, CMA category) of a point of CMA category 9: extratropical, not a class from the wind
EXTRATROPICAL: tuple[str, str, str, int] = ("ET", "变性温带气旋", "Extratropical", 9)


class BestTrackError(ValueError):
    """A malformed best-track line: names the file, the line number (1-based) and the field."""

    def __init__(self, message: str, file: str, line: int, field: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        super().__init__(f"{file}:{line}: field '{field}': {message}")


#: Chinese names (as CMA publishes them) of Western-Pacific storms that struck or threatened Zhejiang; the
#: best-track files carry the English name only. Keys: the name in lower case without hyphens.
CHINESE_NAMES = {
    "lekima": "利奇马", "infa": "烟花", "chanthu": "灿都", "muifa": "梅花", "hagupit": "黑格比", "maria": "玛莉亚",
    "rumbia": "温比亚", "yagi": "摩羯", "jongdari": "云雀", "ampil": "安比", "bavi": "巴威", "maysak": "美莎克",
    "haishen": "海神", "hinnamnor": "轩岚诺", "doksuri": "杜苏芮", "khanun": "卡努", "gaemi": "格美",
    "bebinca": "贝碧嘉", "pulasan": "普拉桑", "kongrey": "康妮", "fitow": "菲特", "chanhom": "灿鸿",
    "saomai": "桑美", "rananim": "云娜", "matsa": "麦莎", "mitag": "米娜", "soudelor": "苏迪罗",
    "meranti": "莫兰蒂", "nepartak": "尼伯特", "hato": "天鸽", "mangkhut": "山竹", "haikui": "海葵", "wipha": "韦帕",
    "krosa": "罗莎", "pabuk": "帕布",
}


@dataclass(frozen=True)
class TrackPoint:
    """One best-track (or forecast) point; ``wind_ms`` is the 2-min mean maximum sustained wind."""

    time: datetime
    lat: float
    lon: float
    pressure_hpa: float | None
    wind_ms: float | None
    category: int = 0
    radii: WindRadii | None = None

    @property
    def intensity(self) -> str:
        """Class code: ``ET`` for CMA category 9 (extratropical), else GB/T 19201-2006 from the wind."""
        return point_class(self)[0]


@dataclass
class Storm:
    """One cyclone block of a best-track file."""

    intl_id: str
    cn_id: str
    name: str
    serial: str
    end_flag: int
    interval_h: int
    points: list[TrackPoint] = field(default_factory=list)
    source: str = ""

    @property
    def peak(self) -> TrackPoint:
        return max(self.points, key=lambda p: p.wind_ms or 0)

    @property
    def start(self) -> datetime:
        """Time of the first point (the storm's life starts here)."""
        return self.points[0].time

    @property
    def end(self) -> datetime:
        """Time of the last point."""
        return self.points[-1].time

    @property
    def label(self) -> str:
        """``"1909 Lekima"``: the Chinese number and the name."""
        return f"{self.cn_id} {self.name}"

    @property
    def name_zh(self) -> str:
        """The storm's Chinese name (CMA's, from :data:`CHINESE_NAMES`: Lekima → 利奇马); the name otherwise."""
        return CHINESE_NAMES.get(self.name.strip().casefold().replace("-", ""), self.name)

    @property
    def label_zh(self) -> str:
        """``"1909 利奇马"``: the Chinese number and the Chinese name."""
        return f"{self.cn_id} {self.name_zh}"

    def alive_at(self, t: datetime) -> bool:
        """Whether ``t`` lies within the track (first to last point)."""
        return bool(self.points) and self.start <= t <= self.end

    def matches(self, query: str) -> bool:
        """Whether ``query`` names this storm: its Chinese number (``1909``), international number or name,
        in any case (``lekima``, ``LEKIMA``), or number and name together (``1909 Lekima``)."""
        q = " ".join(query.split()).casefold()
        if not q:
            return False
        names = {self.cn_id.casefold(), self.intl_id.casefold(), self.name.casefold(),
                 f"{self.cn_id} {self.name}".casefold()}
        return q in names - {"0000", "(nameless)", ""}


@dataclass(frozen=True)
class WindRadii:
    """Radii (km) of the 7-, 10- and 12-level wind per quadrant (NE, SE, SW, NW); 0 = none."""

    r7: tuple[float, float, float, float] = (0, 0, 0, 0)
    r10: tuple[float, float, float, float] = (0, 0, 0, 0)
    r12: tuple[float, float, float, float] = (0, 0, 0, 0)

    def level(self, level: int) -> tuple[float, float, float, float]:
        try:
            return {7: self.r7, 10: self.r10, 12: self.r12}[level]
        except KeyError:
            raise ValueError(f"wind circles exist for levels 7, 10 and 12, not {level}") from None


# -- parsing --------------------------------------------------------------------------------------

def _int_field(text: str, name: str, file: str, line: int, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BestTrackError(f"not an integer: {text!r}", file, line, name) from None
    if not lo <= value <= hi:
        raise BestTrackError(f"{value} outside {lo}..{hi}", file, line, name)
    return value


def _parse_data_line(text: str, file: str, line: int) -> TrackPoint:
    parts = text.split()
    names = ("time", "category", "lat", "lon", "pressure", "wind")
    if len(parts) < 6:
        raise BestTrackError(f"missing: expected 'YYYYMMDDHH I LAT LONG PRES WND', got {len(parts)} field"
                             f"{'' if len(parts) == 1 else 's'}", file, line, names[len(parts)])
    try:
        if len(parts[0]) != 10 or not parts[0].isdigit():
            raise ValueError
        t = datetime.strptime(parts[0], "%Y%m%d%H").replace(tzinfo=timezone.utc)
    except ValueError:
        raise BestTrackError(f"not a YYYYMMDDHH time: {parts[0]!r}", file, line, "time") from None
    cat = _int_field(parts[1], "category", file, line, 0, 9)
    if cat not in CMA_CATEGORIES:
        raise BestTrackError(f"category {cat} is not one of {sorted(CMA_CATEGORIES)}", file, line, "category")
    lat = _int_field(parts[2], "lat", file, line, -900, 900) / 10.0
    lon = _int_field(parts[3], "lon", file, line, 0, 1800) / 10.0
    pres = _int_field(parts[4], "pressure", file, line, 850, 1100)
    wind = _int_field(parts[5], "wind", file, line, 0, 120)
    return TrackPoint(t, lat, lon, float(pres), float(wind), cat)


def _parse_header(text: str, file: str, line: int) -> tuple[Storm, int]:
    parts = text.split()
    if len(parts) < 8:
        raise BestTrackError("header needs '66666 INTL COUNT SERIAL CNID END INTERVAL NAME'",
                             file, line, ("marker", "intl_id", "line_count", "serial", "cn_id", "end_flag",
                                          "interval_h", "name")[len(parts)])
    count = _int_field(parts[2], "line_count", file, line, 0, 999)
    end_flag = _int_field(parts[5], "end_flag", file, line, 0, 3)
    interval = _int_field(parts[6], "interval_h", file, line, 0, 24)
    return Storm(intl_id=parts[1], cn_id=parts[4], name=parts[7], serial=parts[3], end_flag=end_flag,
                 interval_h=interval, source=file), count


def parse_best_track(source: str | Path, text: str | None = None, strict: bool = True
                     ) -> list[Storm] | tuple[list[Storm], list[BestTrackError]]:
    """Parse a CMA best-track file (a path, or a name plus ``text``).

    strict=True: the first malformed line raises ``BestTrackError`` (file, line, field).
    strict=False: returns ``(storms, errors)``: malformed lines are skipped and reported, the rest parsed.
    """
    file = str(source)
    if text is None:
        text = Path(source).read_text(encoding="utf-8")
    storms: list[Storm] = []
    errors: list[BestTrackError] = []
    current: Storm | None = None
    expected = 0
    header_line = 0
    seen = 0

    def close() -> None:
        if current is not None and seen != expected:
            errors.append(BestTrackError(f"header announces {expected} data lines, the block has {seen}",
                                         file, header_line, "line_count"))

    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            if raw.lstrip().startswith("66666"):
                close()
                if errors and strict:
                    raise errors[0]
                current, expected = _parse_header(raw, file, no)
                header_line, seen = no, 0
                storms.append(current)
                continue
            if current is None:
                raise BestTrackError("data line before any '66666' header", file, no, "marker")
            seen += 1
            current.points.append(_parse_data_line(raw, file, no))
        except BestTrackError as exc:
            if strict:
                raise
            if exc not in errors:
                errors.append(exc)
    close()
    if strict and errors:
        raise errors[0]
    for s in storms:
        s.points.sort(key=lambda p: p.time)
    return storms if strict else (storms, errors)


def format_best_track(storm: Storm, dataset_date: str = "") -> str:
    """The storm as a CMA best-track block (the inverse of ``parse_best_track``)."""
    head = (f"66666 {storm.intl_id:>4} {len(storm.points):>4} {storm.serial:>4} {storm.cn_id:>4} "
            f"{storm.end_flag} {storm.interval_h} {storm.name:<20}{dataset_date:>12}")
    lines = [head.rstrip()]
    for p in storm.points:
        wnd = f"{int(round(p.wind_ms)):>9}" if p.wind_ms is not None else ""
        lines.append(f"{p.time:%Y%m%d%H} {p.category} {int(round(p.lat * 10)):>3} {int(round(p.lon * 10)):>4} "
                     f"{int(round(p.pressure_hpa or 0)):>4}{wnd}")
    return "\n".join(lines) + "\n"


# -- classification -------------------------------------------------------------------------------

def intensity_class(wind_ms: float | None) -> tuple[str, str, str, int]:
    """(code, zh, en, CMA category) of GB/T 19201-2006 for a 2-min mean max wind; below TD: ("", ...)."""
    if wind_ms is None or math.isnan(wind_ms):
        return ("", "未知", "unknown", 0)
    for lo, code, zh, en, cat in GBT_19201_CLASSES:
        if wind_ms >= lo:
            return (code, zh, en, cat)
    return ("", "低于热带低压", "below TD", 0)


def point_class(p: TrackPoint) -> tuple[str, str, str, int]:
    """(code, zh, en, CMA category) of a track point: ``EXTRATROPICAL`` for CMA category 9 (the wind of an
    extratropical cyclone does not make it a tropical storm), else ``intensity_class`` of its wind."""
    if p.category == 9:
        return EXTRATROPICAL
    return intensity_class(p.wind_ms)


def beaufort(wind_ms: float) -> int:
    """Wind-force level (蒲福风级, GB/T 28591-2012 up to 17) of a wind speed in m/s."""
    upper = (0.2, 1.5, 3.3, 5.4, 7.9, 10.7, 13.8, 17.1, 20.7, 24.4, 28.4, 32.6, 36.9, 41.4, 46.1, 50.9, 56.0)
    for level, hi in enumerate(upper):
        if wind_ms <= hi:
            return level
    return 17


# -- geometry -------------------------------------------------------------------------------------

def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_R_KM * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def destination(lat: float, lon: float, bearing: float, dist_km: float) -> tuple[float, float]:
    """(lat, lon) reached going ``dist_km`` from (lat, lon) on ``bearing`` degrees."""
    d = dist_km / EARTH_R_KM
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def quadrant_of(bearing: float) -> int:
    """Index into (NE, SE, SW, NW) of a bearing from the centre."""
    return int((bearing % 360.0) // 90.0)


def radius_towards(radii: Sequence[float], bearing: float) -> float:
    """The wind radius of the quadrant a bearing falls in."""
    return float(radii[quadrant_of(bearing)])


def wind_circle(lat: float, lon: float, radii: Sequence[float], step_deg: float = 5.0) -> list[list[float]]:
    """Closed polygon ring [[lon, lat], ...] of a quadrant wind circle (each quadrant its own radius).

    Empty when every radius is 0. Quadrant edges are joined by the radial steps, as on CMA charts.
    """
    if len(radii) != 4:
        raise ValueError(f"wind radii need 4 quadrants (NE, SE, SW, NW), got {len(radii)}")
    if any(r < 0 for r in radii):
        raise ValueError(f"wind radii must be >= 0 km, got {list(radii)}")
    if not any(radii):
        return []
    ring: list[list[float]] = []
    n = max(2, int(round(90 / step_deg)))
    for q, r in enumerate(radii):
        for i in range(n + 1):
            b = q * 90.0 + 90.0 * i / n
            la, lo = destination(lat, lon, b, r) if r > 0 else (lat, lon)
            ring.append([round(lo, 5), round(la, 5)])
    ring.append(ring[0])
    return ring


def circle(lat: float, lon: float, r_km: float, step_deg: float = 10.0) -> list[list[float]]:
    ring = []
    for i in range(int(360 / step_deg)):
        la, lo = destination(lat, lon, i * step_deg, r_km)
        ring.append([round(lo, 5), round(la, 5)])
    ring.append(ring[0])
    return ring


def forecast_cone(points: Sequence[TrackPoint], radii_km: Sequence[float]) -> list[list[float]]:
    """Outline [[lon, lat], ...] of the forecast cone: probable-position circles of growing radius along the
    forecast points, joined by their left and right tangents and closed by a semicircle at the end."""
    if len(points) != len(radii_km):
        raise ValueError("one cone radius per forecast point")
    if len(points) < 2:
        return circle(points[0].lat, points[0].lon, max(radii_km[0], 1.0)) if points else []
    left, right = [], []
    for i, (p, r) in enumerate(zip(points, radii_km)):
        a = points[max(i - 1, 0)]
        b = points[min(i + 1, len(points) - 1)]
        heading = bearing_deg(a.lat, a.lon, b.lat, b.lon)
        r = max(r, 0.5)
        la, lo = destination(p.lat, p.lon, heading - 90, r)
        left.append([round(lo, 5), round(la, 5)])
        la, lo = destination(p.lat, p.lon, heading + 90, r)
        right.append([round(lo, 5), round(la, 5)])
    end, r_end = points[-1], max(radii_km[-1], 0.5)
    heading = bearing_deg(points[-2].lat, points[-2].lon, end.lat, end.lon)
    cap = []
    for i in range(1, 18):
        la, lo = destination(end.lat, end.lon, heading - 90 + i * 10, r_end)
        cap.append([round(lo, 5), round(la, 5)])
    ring = left + cap + right[::-1]
    ring.append(ring[0])
    return ring


# -- time along a track ---------------------------------------------------------------------------

def interpolate(points: Sequence[TrackPoint], t: datetime) -> TrackPoint:
    """Position, wind and radii at time ``t`` by linear interpolation (clamped to the track's ends)."""
    if not points:
        raise ValueError("empty track")
    if t <= points[0].time:
        return points[0]
    if t >= points[-1].time:
        return points[-1]
    for a, b in zip(points, points[1:]):
        if a.time <= t <= b.time:
            span = (b.time - a.time).total_seconds() or 1.0
            f = (t - a.time).total_seconds() / span
            lerp = (lambda x, y: None if x is None or y is None else x + (y - x) * f)
            radii = None
            if a.radii and b.radii:
                radii = WindRadii(*[tuple(x + (y - x) * f for x, y in zip(a.radii.level(lv), b.radii.level(lv)))
                                    for lv in (7, 10, 12)])
            else:
                radii = a.radii or b.radii
            return TrackPoint(t, a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f,
                              lerp(a.pressure_hpa, b.pressure_hpa), lerp(a.wind_ms, b.wind_ms),
                              a.category if f < 0.5 else b.category, radii)
    return points[-1]  # pragma: no cover - unreachable with sorted points


@dataclass(frozen=True)
class Approach:
    """How a typhoon stands towards a place: distance now, bearing, and when the 7-level circle arrives."""

    distance_km: float
    bearing_from_centre: float
    inside_7: bool
    inside_10: bool
    inside_12: bool
    arrival_7: datetime | None
    closest_km: float
    closest_time: datetime | None


def approach(points: Sequence[TrackPoint], now: datetime, lat: float, lon: float,
             step: timedelta = timedelta(minutes=10)) -> Approach:
    """Distance from the centre at ``now`` to (lat, lon) and the first time at or after ``now`` when the
    7-level wind circle (its radius in the quadrant facing the place) reaches it, along the (forecast) track.

    ``arrival_7`` is ``now`` when the place is already inside, None when the circle never reaches it.
    """
    if not points:
        raise ValueError("empty track")
    cur = interpolate(points, now)
    d = distance_km(cur.lat, cur.lon, lat, lon)
    b = bearing_deg(cur.lat, cur.lon, lat, lon)

    def inside(p: TrackPoint, level: int) -> bool:
        if p.radii is None:
            return False
        dd = distance_km(p.lat, p.lon, lat, lon)
        return dd <= radius_towards(p.radii.level(level), bearing_deg(p.lat, p.lon, lat, lon))

    arrival = None
    closest, closest_t = d, now
    t = now
    end = points[-1].time
    while t <= end:
        p = interpolate(points, t)
        dd = distance_km(p.lat, p.lon, lat, lon)
        if dd < closest:
            closest, closest_t = dd, t
        if arrival is None and inside(p, 7):
            arrival = t
        t += step
    return Approach(d, b, inside(cur, 7), inside(cur, 10), inside(cur, 12), arrival, closest, closest_t)


def attach_radii(points: Iterable[TrackPoint], radii_by_time: dict[datetime, WindRadii]) -> list[TrackPoint]:
    """Copy of ``points`` with the radii of the bulletin times given (others interpolated between them)."""
    pts = list(points)
    known = sorted(radii_by_time.items())
    out = []
    for p in pts:
        r = radii_by_time.get(p.time)
        if r is None and known:
            before = [(t, x) for t, x in known if t <= p.time]
            after = [(t, x) for t, x in known if t >= p.time]
            if before and after:
                (ta, ra), (tb, rb) = before[-1], after[0]
                f = (p.time - ta).total_seconds() / ((tb - ta).total_seconds() or 1)
                r = WindRadii(*[tuple(x + (y - x) * f for x, y in zip(ra.level(lv), rb.level(lv)))
                                for lv in (7, 10, 12)])
        out.append(TrackPoint(p.time, p.lat, p.lon, p.pressure_hpa, p.wind_ms, p.category, r))
    return out
