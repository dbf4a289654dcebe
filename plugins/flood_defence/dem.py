"""The district's DEM: a generated grid (DEMO) on the real coast (the bundled GSHHS land), with the tidal
Jiao river estuary, hills and a coastal lowland.

Cells are ``dlon`` × ``dlat`` degrees; row 0 is the north edge. Elevations are metres above the
datum the stations use (Yellow Sea 1985 in a real deployment); NaN is no-data. ``water`` marks the
river and sea cells (the open water the bathtub fills from), ``dike`` the embankment and sea-wall cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the demo grid's extent (west, south, east, north) and cell size in degrees
EXTENT = (121.33, 28.56, 121.60, 28.78)
CELL_DEG = 0.001
DIKE_CREST_M = 6.8      # Jiao river embankments (DEMO)
SEAWALL_CREST_M = 7.4   # standard sea wall (DEMO)


class DemError(ValueError):
    """A DEM file that cannot be used."""


@dataclass
class Dem:
    z: np.ndarray            # (rows, cols) float32, NaN = no data
    water: np.ndarray        # bool: river and sea
    dike: np.ndarray         # bool: embankments and sea wall
    lon0: float              # west edge
    lat0: float              # north edge
    dlon: float
    dlat: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.z)

    def cell(self, lon: float, lat: float) -> tuple[int, int] | None:
        """(row, col) of a position, None outside the grid."""
        c = int(math.floor((lon - self.lon0) / self.dlon))
        r = int(math.floor((self.lat0 - lat) / self.dlat))
        if 0 <= r < self.z.shape[0] and 0 <= c < self.z.shape[1]:
            return r, c
        return None

    def center(self, r: int, c: int) -> tuple[float, float]:
        """(lon, lat) of a cell's centre."""
        return self.lon0 + (c + 0.5) * self.dlon, self.lat0 - (r + 0.5) * self.dlat

    def cell_area_m2(self) -> np.ndarray:
        """Area of the cells of each row (m²), shape (rows, 1)."""
        lat = self.lat0 - (np.arange(self.z.shape[0]) + 0.5) * self.dlat
        dy = self.dlat * 111_320.0
        dx = self.dlon * 111_320.0 * np.cos(np.radians(lat))
        return (dx * dy)[:, None]

    def cell_size_m(self) -> tuple[float, float]:
        lat = self.lat0 - self.z.shape[0] * self.dlat / 2
        return self.dlon * 111_320.0 * math.cos(math.radians(lat)), self.dlat * 111_320.0

    def save(self, path: Path) -> None:
        np.savez_compressed(path, z=self.z.astype(np.float32), water=self.water, dike=self.dike,
                            meta=np.array([self.lon0, self.lat0, self.dlon, self.dlat]))


def load_dem(path: Path) -> Dem:
    """Load a DEM saved by ``Dem.save``; DemError names the file and what is wrong."""
    try:
        with np.load(path) as f:
            z, water, dike, meta = f["z"], f["water"], f["dike"], f["meta"]
    except FileNotFoundError:
        raise DemError(f"{path}: DEM file not found (generate it: python -m twinboard_plugins.flood_defence.dem)") \
            from None
    except (KeyError, ValueError, OSError) as exc:
        raise DemError(f"{path}: not a twinboard DEM (.npz with z, water, dike, meta): {exc}") from None
    if z.ndim != 2 or water.shape != z.shape or dike.shape != z.shape or meta.shape != (4,):
        raise DemError(f"{path}: arrays z {z.shape}, water {water.shape}, dike {dike.shape}, meta {meta.shape} "
                       "do not fit together")
    if not np.isfinite(z).any():
        raise DemError(f"{path}: every cell is no-data")
    lon0, lat0, dlon, dlat = (float(x) for x in meta)
    if dlon <= 0 or dlat <= 0:
        raise DemError(f"{path}: cell size must be positive, got dlon={dlon}, dlat={dlat}")
    return Dem(z.astype(np.float32), water.astype(bool), dike.astype(bool), lon0, lat0, dlon, dlat)


#: The host's bundled base map (GSHHS land; read directly: plugins import core.api only).
BASEMAP_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "basemap"
#: The Jiao river's mouth: open water west of the line from the south bank's corner at 三甲 to the
#: north bank's coast is the tidal river (embankments), the rest is the sea (sea wall).
MOUTH = ((121.507, 28.655), (121.532, 28.705))
#: Hills (lon, lat, height m, radius deg): the north bank's hills (章安, 前所 and 临海 beyond), the
#: south-west (洪家, towards 黄岩), the town hills 白云山, 小圆山, 枫山 and the east ridge where the
#: forest_fire twin's lookouts and forests are, and a low ridge in the south-east (DEMO: not surveyed).
HILLS = ((121.42, 28.762, 260, 0.018), (121.37, 28.750, 190, 0.016), (121.47, 28.770, 120, 0.012),
         (121.35, 28.600, 310, 0.022), (121.39, 28.572, 210, 0.014), (121.50, 28.585, 90, 0.009),
         (121.398, 28.641, 200, 0.006), (121.397, 28.681, 110, 0.004), (121.425, 28.672, 100, 0.005),
         (121.445, 28.648, 80, 0.004))


def land_polygon():
    """GSHHS land of the bundled base map (finest level), a shapely geometry in lon/lat."""
    import json

    import shapely
    from shapely.geometry import shape
    manifest = json.loads((BASEMAP_DIR / "manifest.json").read_text(encoding="utf-8"))
    finest = max(manifest["levels"], key=lambda lv: lv["min_zoom"])
    fc = json.loads((BASEMAP_DIR / finest["file"]).read_text(encoding="utf-8"))
    land = shapely.union_all([shape(f["geometry"]) for f in fc["features"] if f["properties"].get("kind") == "land"])
    shapely.prepare(land)
    return land


def generate_dem(extent: tuple[float, float, float, float] = EXTENT, cell: float = CELL_DEG,
                 seed: int = 1909) -> Dem:
    """Deterministic DEMO DEM on the real coast: land where the bundled GSHHS land is (the Jiao river
    estuary and the sea are open water below the datum), a low coastal plain of ~2–4 m with polders
    of ~2 m along the estuary and the coast, hills to ~300 m in the north and south-west, embankments
    (6.8 m) along the tidal river and a sea wall (7.4 m) along the coast."""
    import shapely
    from scipy import ndimage
    west, south, east, north = extent
    cols = int(round((east - west) / cell))
    rows = int(round((north - south) / cell))
    lon = west + (np.arange(cols) + 0.5) * cell
    lat = north - (np.arange(rows) + 0.5) * cell
    LON, LAT = np.meshgrid(lon, lat)
    land = shapely.contains_xy(land_polygon(), LON, LAT)
    water = ~land
    rng = np.random.default_rng(seed)
    # smooth noise: low-resolution random field, upsampled bilinearly
    coarse = rng.normal(0, 1, (rows // 10 + 2, cols // 10 + 2))
    noise = ndimage.zoom(coarse, (rows / (coarse.shape[0] - 1), cols / (coarse.shape[1] - 1)), order=1)[:rows, :cols]
    cell_m = cell * 111_320.0 * math.cos(math.radians((south + north) / 2))
    shore_km = ndimage.distance_transform_edt(land) * cell_m / 1000.0     # land: km to open water
    depth_km = ndimage.distance_transform_edt(water) * cell_m / 1000.0    # water: km from the shore
    # the plain: ~2 m polders by the water rising to ~3.3 m inland, higher towards the western hills
    plain = 2.0 + 1.3 * np.clip(shore_km / 3.0, 0, 1) + 0.3 * noise + 9.0 * np.clip((121.40 - LON) / 0.07, 0, None) ** 2
    hills = np.zeros_like(LON)
    for hlon, hlat, h, s in HILLS:
        hills += h * np.exp(-((LON - hlon) ** 2 + (LAT - hlat) ** 2) / (2 * s * s))
    z = plain + hills * np.clip(shore_km / 0.3, 0, 1)                     # hills fall to the shore
    (ax, ay), (bx, by) = MOUTH
    upstream = (bx - ax) * (LAT - ay) - (by - ay) * (LON - ax) > 0         # left of the mouth line
    river = water & upstream & (LAT > MOUTH[0][1])
    sea = water & ~river
    z = np.where(river, -3.0 - 4.0 * np.clip(depth_km / 0.8, 0, 1), z)
    z = np.where(sea, -4.0 - 6.0 * np.clip(depth_km / 5.0, 0, 1), z)
    # embankments: land cells next to the tidal river; sea wall: land cells along the sea
    ring_r = ndimage.binary_dilation(river, iterations=1) & land
    ring_s = ndimage.binary_dilation(sea, iterations=2) & land
    dike = (ring_r & (z < DIKE_CREST_M)) | (ring_s & (z < SEAWALL_CREST_M))
    z = np.where(ring_r & dike, np.maximum(z, DIKE_CREST_M), z)
    z = np.where(ring_s & dike, np.maximum(z, SEAWALL_CREST_M), z)
    return Dem(z.astype(np.float32), water, dike, west, north, cell, cell)


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped DEMO file
    out = Path(__file__).resolve().parents[2] / "twin_models" / "flood_defence" / "dem_demo.npz"
    generate_dem().save(out)
    print(out)
