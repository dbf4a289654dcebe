"""The district's DEM: a generated grid (DEMO) with the tidal Jiao river valley, hills and a coastal lowland.

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


def river_centre_lat(lon: np.ndarray | float) -> np.ndarray | float:
    """Latitude of the Jiao river's centreline (DEMO sketch: west to east, meandering)."""
    x = np.asarray(lon) - EXTENT[0]
    return 28.702 + 0.006 * np.sin(x * 28.0) - 0.012 * x


def river_half_width_deg(lon: np.ndarray | float) -> np.ndarray | float:
    x = (np.asarray(lon) - EXTENT[0]) / (EXTENT[2] - EXTENT[0])
    return 0.0016 + 0.0055 * x ** 2


def coast_lon(lat: np.ndarray | float) -> np.ndarray | float:
    """Longitude of the shoreline (sea to the east)."""
    y = np.asarray(lat)
    return 121.552 + 0.012 * np.sin((y - 28.56) * 30.0) - 0.08 * np.clip(28.66 - y, 0, None)


def generate_dem(extent: tuple[float, float, float, float] = EXTENT, cell: float = CELL_DEG,
                 seed: int = 1909) -> Dem:
    """Deterministic DEMO DEM: coastal plain at ~2.5–4 m, hills to ~300 m in the north and south-west,
    the tidal Jiao river crossing west to east with embankments, the sea with a sea wall in the east."""
    west, south, east, north = extent
    cols = int(round((east - west) / cell))
    rows = int(round((north - south) / cell))
    lon = west + (np.arange(cols) + 0.5) * cell
    lat = north - (np.arange(rows) + 0.5) * cell
    LON, LAT = np.meshgrid(lon, lat)
    rng = np.random.default_rng(seed)
    # smooth noise: low-resolution random field, upsampled bilinearly
    coarse = rng.normal(0, 1, (rows // 10 + 2, cols // 10 + 2))
    from scipy import ndimage
    noise = ndimage.zoom(coarse, (rows / (coarse.shape[0] - 1), cols / (coarse.shape[1] - 1)), order=1)[:rows, :cols]
    plain = 2.6 + 0.35 * noise + 9.0 * np.clip((121.40 - LON) / 0.07, 0, None) ** 2
    hills = np.zeros_like(LON)
    for hlon, hlat, h, s in ((121.42, 28.762, 260, 0.018), (121.37, 28.750, 190, 0.016), (121.47, 28.770, 120, 0.012),
                             (121.425, 28.668, 75, 0.005), (121.35, 28.600, 310, 0.022), (121.39, 28.572, 210, 0.014),
                             (121.50, 28.585, 90, 0.009)):
        hills += h * np.exp(-((LON - hlon) ** 2 + (LAT - hlat) ** 2) / (2 * s * s))
    z = plain + hills
    # the river valley: channel and a gentle valley floor towards it
    dist = np.abs(LAT - river_centre_lat(LON))
    hw = river_half_width_deg(LON)
    river = dist <= hw
    valley = np.clip((dist - hw) / 0.01, 0, 1)
    z = np.where(~river, z * (0.55 + 0.45 * valley) + 1.2 * (1 - valley), z)
    z = np.where(river, -4.0 - 3.0 * (1 - dist / hw), z)
    sea = LON >= coast_lon(LAT)
    z = np.where(sea, -6.0, z)
    water = river | sea
    # embankments: land cells next to the lowland river (east of 121.37), sea wall along the shore
    from scipy.ndimage import binary_dilation
    ring_r = binary_dilation(river, iterations=1) & ~water
    ring_s = binary_dilation(sea, iterations=2) & ~water
    dike = (ring_r & (z < DIKE_CREST_M)) | (ring_s & (z < SEAWALL_CREST_M))
    z = np.where(ring_r & dike, np.maximum(z, DIKE_CREST_M), z)
    z = np.where(ring_s & dike, np.maximum(z, SEAWALL_CREST_M), z)
    return Dem(z.astype(np.float32), water, dike, west, north, cell, cell)


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped DEMO file
    out = Path(__file__).resolve().parents[2] / "twin_models" / "flood_defence" / "dem_demo.npz"
    generate_dem().save(out)
    print(out)
