"""What the one map knows, read from the host's store: stations, teams, targets, domain layers.

The command centre never imports another plugin: it reads the entities every plugin loaded into
the shared store, by kind (``hazard_source`` of chemical_park, ``sme_enterprise`` of
enterprise_park, ``village``/``risk_point``/``shelter`` of flood_defence, ``camera`` of forest_fire).
A kind no enabled plugin provides is simply an empty layer.
"""

from __future__ import annotations

import math
from functools import lru_cache

from core.api import Entity, Store

from .circle import Place
from .imported_roads import imported_network
from .incidents import point_of
from .roads import RoadNetwork, demo_roads

TEAM_KINDS = ("emergency_team", "micro_station", "fire_rescue_station")
STATION_KINDS = ("micro_station", "fire_rescue_station", "emergency_team")
TARGET_KINDS = ("risk_point", "hazard_source", "enterprise", "sme_enterprise", "village")
#: Layers of the one map: key → (kinds, zh, en, RGB, icon). Each kind has its own colour and its own shape
#: (``core.api.ICON_NAMES``): colours far apart (CIEDE2000 ≥ 18, tests/test_command_center.py) from each other and
#: from the incidents' severity colours (panels.SEV_RGB: red, orange, yellow, blue), readable on the dark map; the
#: shape tells them apart for a colour-blind viewer.
LAYERS = {
    "teams": (("emergency_team",), "救援队伍", "Rescue teams", [180, 250, 40], "shield"),
    "micro": (("micro_station",), "微型救援站", "Micro stations", [25, 255, 250], "diamond"),
    "fire": (("fire_rescue_station", "fire_station"), "消防站", "Fire stations", [255, 175, 190], "star"),
    "depots": (("material_depot", "material_store"), "物资库", "Material stores", [170, 130, 250], "square"),
    "shelters": (("emergency_shelter", "shelter"), "避难场所", "Shelters", [0, 170, 175], "house"),
    "medical": (("medical_point", "medical_station"), "医疗点", "Medical points", [255, 255, 255], "cross"),
    "cameras": (("key_camera", "camera"), "重点监控", "Key cameras", [145, 215, 255], "camera"),
    "hazards": (("hazard_source",), "重大危险源", "Major hazard sources", [255, 60, 190], "warning"),
    "parks": (("sme_park",), "小微企业园", "SME parks", [175, 155, 120], "hexagon"),
    "stations": (("station",), "水文测站", "Hydrological stations", [155, 150, 160], "drop"),
    "risk": (("risk_point",), "风险点", "Risk points", [115, 160, 0], "x"),
}


def place(e: Entity) -> Place:
    pt = point_of(e.geometry) or (None, None)
    people = e.properties.get("population") or e.properties.get("staff") or 0
    return Place(e.id, e.name, e.kind, pt[0], pt[1], int(people) if isinstance(people, (int, float)) else 0)


def entities_of(store: Store, kinds: tuple[str, ...]) -> list[Entity]:
    out: list[Entity] = []
    for k in kinds:
        out += store.entities(kind=k)
    return out


def stations(store: Store) -> list[Place]:
    """Every place a rescue force leaves from: micro stations, fire stations, teams at their home base."""
    out = []
    for e in entities_of(store, STATION_KINDS):
        home = point_of(e.properties.get("home")) if e.properties.get("home") else None
        p = place(e)
        out.append(Place(p.id, p.name, p.kind, *(home or (p.lon, p.lat))))
    return out


def targets(store: Store) -> list[Place]:
    return [place(e) for e in entities_of(store, TARGET_KINDS)]


@lru_cache(maxsize=4)
def demo_network(spacing_m: float = 380.0) -> RoadNetwork:
    """The demo road network (made once per process)."""
    return RoadNetwork(demo_roads(spacing_m=spacing_m))


def road_network(spacing_m: float = 380.0, store: Store | None = None) -> RoadNetwork:
    """The imported road network (``twinboard gis import FILE --as roads``) when there is one, else the demo one."""
    return imported_network(store) or demo_network(spacing_m)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat0 = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111.32 * math.cos(lat0), (a[1] - b[1]) * 110.54)


def nearby_entities(store: Store, lon: float, lat: float, radius_km: float, kinds: tuple[str, ...]) -> list[Entity]:
    """Entities of ``kinds`` within ``radius_km`` of a point (closest first)."""
    out = []
    for k in kinds:
        for e in store.entities(kind=k):
            pt = point_of(e.geometry)
            if pt is not None:
                d = distance_km((lon, lat), pt)
                if d <= radius_km:
                    out.append((d, e))
    return [e for _, e in sorted(out, key=lambda x: x[0])]
