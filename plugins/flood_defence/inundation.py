"""Inundation rehearsal (预演): a connected bathtub from breach or overflow points, a rainfall storage-cell
step, and what the water reaches (villages, risk points, people, shelters).

* ``bathtub``: cells below the water level that are 4-connected to a source (open water or a breach)
  through cells below that level; no-data cells are walls and are counted, never silently flooded.
* ``storage_cells``: rain (less runoff losses and drainage) spreads between 4-neighbour cells by the
  water-surface difference (an explicit storage-cell relaxation, LISFLOOD-FP style without momentum)
  and leaves the grid into open water.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .dem import Dem

#: depth from which a cell counts as flooded (area, villages, shelters)
FLOODED_M = 0.15
FOUR = ndimage.generate_binary_structure(2, 1)


def bathtub(z: np.ndarray, level: float, sources: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Depth (m, 0 where dry) of the cells below ``level`` connected to a ``sources`` cell (4-connectivity)."""
    if z.shape != sources.shape:
        raise ValueError(f"sources {sources.shape} must have the DEM's shape {z.shape}")
    with np.errstate(invalid="ignore"):
        wet = z < level
    if valid is not None:
        wet &= valid
    lab, n = ndimage.label(wet, structure=FOUR)
    keep = np.zeros(n + 1, dtype=bool)
    keep[lab[sources]] = True          # dry source cells carry label 0
    keep[0] = False
    flooded = keep[lab]
    depth = np.where(flooded, np.float32(level) - z, np.float32(0)).astype(np.float32, copy=False)
    return depth


def limit_volume(depth: np.ndarray, z: np.ndarray, cell_area: np.ndarray | float, volume_m3: float) -> np.ndarray:
    """Lower the flood in ``depth``'s footprint to the level pool holding ``volume_m3`` (filled from the
    lowest cell up): a breach lets in a limited volume, not the whole sea."""
    mask = depth > 0
    if not mask.any() or volume_m3 <= 0:
        return np.zeros_like(depth)
    area = np.broadcast_to(cell_area, z.shape)[mask]
    zz = z[mask].astype(float)
    order = np.argsort(zz)
    zs, a = zz[order], area[order]
    ca = np.cumsum(a)
    caz = np.cumsum(a * zs)
    vol_at = ca * zs - caz                 # volume below the level of each sorted cell
    level_max = float((z[mask] + depth[mask]).max())
    full = float((a * (level_max - zs)).sum())
    if volume_m3 >= full:
        return depth
    k = int(np.searchsorted(vol_at, volume_m3, side="right")) - 1
    k = max(k, 0)
    level = zs[k] + (volume_m3 - vol_at[k]) / ca[k]
    out = np.where(mask, np.clip(level - z, 0, None), 0).astype(np.float32)
    return out


def storage_cells(z: np.ndarray, rain_mm: float, water: np.ndarray, valid: np.ndarray | None = None,
                  runoff_coeff: float = 0.7, drainage_mm: float = 50.0, iterations: int = 150,
                  alpha: float = 0.2, open_edges: bool = True) -> np.ndarray:
    """Ponded rain depth (m) after ``iterations`` storage-cell exchanges.

    Net rain = max(rain × runoff_coeff − drainage, 0) on every valid land cell. Each step moves
    ``alpha`` of each water-surface difference to the lower neighbour (at most the water a cell has);
    water reaching open-water cells leaves. Mass is conserved on land apart from that outflow.
    """
    if not 0 < alpha <= 0.25:
        raise ValueError("alpha must be in (0, 0.25] for a stable exchange")
    if valid is None:
        valid = np.isfinite(z)
    land = valid & ~water
    net = max(rain_mm * runoff_coeff - drainage_mm, 0.0) / 1000.0
    h = np.where(land, net, 0.0)
    wall, sink = np.float32(1e6), np.float32(-1e3)
    h = h.astype(np.float32)
    zz = np.where(valid, z, wall).astype(np.float32)   # no-data: a wall
    zz = np.where(water, sink, zz)                     # open water: a sink
    if net <= 0:
        return h.astype(np.float32)
    for _ in range(iterations):
        eta = np.pad(zz + h, 1, constant_values=sink if open_edges else wall)
        c = eta[1:-1, 1:-1]
        # water each cell sends to its north, south, west and east neighbour
        q = [alpha * np.clip(c - nb, 0, None)
             for nb in (eta[:-2, 1:-1], eta[2:, 1:-1], eta[1:-1, :-2], eta[1:-1, 2:])]
        total = q[0] + q[1] + q[2] + q[3]
        scale = np.where(total > h, h / np.where(total > 0, total, 1.0), 1.0)
        q = [x * scale for x in q]
        h = h - total * scale
        h[:-1, :] += q[0][1:, :]
        h[1:, :] += q[1][:-1, :]
        h[:, :-1] += q[2][:, 1:]
        h[:, 1:] += q[3][:, :-1]
        h[~land] = 0.0
    return np.clip(h, 0, None).astype(np.float32)


# -- scenarios ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A rehearsal: still-water level at the river mouth and sea wall (surge + tide), rain, breaches."""

    key: str
    name: str
    name_en: str
    sea_level_m: float
    rain_mm: float
    breaches: tuple[tuple[float, float], ...] = ()      # (lon, lat)
    breach_width_m: float = 200.0
    breach_volume_m3: float | None = None              # None: the bathtub is not volume-limited
    short: str = ""                                    # a table head's name (zh / en); empty: the name
    short_en: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scenario:
        return cls(str(d["key"]), str(d["name"]), str(d.get("name_en", d["name"])), float(d["sea_level_m"]),
                   float(d.get("rain_mm", 0.0)), tuple(tuple(map(float, b)) for b in d.get("breaches", ())),
                   float(d.get("breach_width_m", 200.0)),
                   float(d["breach_volume_m3"]) if d.get("breach_volume_m3") is not None else None,
                   str(d.get("short", "")), str(d.get("short_en", "")))


@dataclass
class Affected:
    villages: list[dict[str, Any]] = field(default_factory=list)
    risk_points: list[dict[str, Any]] = field(default_factory=list)
    shelters_flooded: list[dict[str, Any]] = field(default_factory=list)
    people: int = 0


@dataclass
class Result:
    scenario: Scenario
    depth: np.ndarray
    area_km2: float
    max_depth_m: float
    volume_m3: float
    nodata_cells: int
    affected: Affected


def apply_breaches(dem: Dem, breaches: Sequence[tuple[float, float]], width_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(z with the dike cut, source mask): dike cells within width/2 of each breach lowered to the land
    behind them; the open water is the source."""
    z = dem.z.copy()
    rows, cols = dem.shape
    dx, dy = dem.cell_size_m()
    rr, cc = np.mgrid[0:rows, 0:cols]
    for lon, lat in breaches:
        rc = dem.cell(lon, lat)
        if rc is None:
            raise ValueError(f"breach at ({lon}, {lat}) is outside the DEM")
        r, c = rc
        near = ((rr - r) * dy) ** 2 + ((cc - c) * dx) ** 2 <= (width_m / 2) ** 2
        cut = near & dem.dike
        if not cut.any():
            # snap to the nearest dike cell
            d2 = np.where(dem.dike, ((rr - r) * dy) ** 2 + ((cc - c) * dx) ** 2, np.inf)
            r, c = np.unravel_index(np.argmin(d2), d2.shape)
            cut = (((rr - r) * dy) ** 2 + ((cc - c) * dx) ** 2 <= (width_m / 2) ** 2) & dem.dike
        land = dem.valid & ~dem.dike & ~dem.water
        behind = z[ndimage.binary_dilation(cut, iterations=3) & land]
        z[cut] = float(np.median(behind)) if behind.size else 2.5
    return z, dem.water.copy()


def run_scenario(dem: Dem, sc: Scenario) -> Result:
    """Flood depth of one scenario: the bathtub from open water and breaches, then the rain ponding."""
    z, sources = apply_breaches(dem, sc.breaches, sc.breach_width_m) if sc.breaches else (dem.z, dem.water)
    valid = dem.valid
    depth = bathtub(z, sc.sea_level_m, sources, valid)
    depth[dem.water] = 0.0
    area = dem.cell_area_m2()
    if sc.breach_volume_m3 is not None:
        depth = limit_volume(depth, z, area, sc.breach_volume_m3)
    if sc.rain_mm > 0:
        depth = np.maximum(depth, storage_cells(z, sc.rain_mm, dem.water, valid))
    wet = depth >= FLOODED_M
    return Result(sc, depth, float((area * wet).sum() / 1e6), float(depth.max(initial=0.0)),
                  float((area * depth).sum()), int((~valid).sum()), Affected())


def assess(dem: Dem, result: Result, villages: Sequence[Any], risk_points: Sequence[Any],
           shelters: Sequence[Any], threshold_m: float = FLOODED_M) -> Affected:
    """Villages (share of their area under ``threshold_m`` or more, people affected), risk points and
    shelters whose cell is flooded. Entities are twin entities (point geometry, properties)."""
    depth = result.depth
    dx, dy = dem.cell_size_m()
    aff = Affected()
    for v in villages:
        lon, lat = v.geometry["coordinates"][:2]
        rc = dem.cell(lon, lat)
        if rc is None:
            continue
        rad = float(v.properties.get("radius_m", 400))
        nr, nc = max(1, int(rad / dy)), max(1, int(rad / dx))
        r, c = rc
        win = depth[max(r - nr, 0):r + nr + 1, max(c - nc, 0):c + nc + 1]
        valid = dem.valid[max(r - nr, 0):r + nr + 1, max(c - nc, 0):c + nc + 1]
        frac = float((win >= threshold_m).sum() / max(valid.sum(), 1))
        if frac > 0:
            pop = int(v.properties.get("population", 0))
            people = int(round(pop * frac))
            aff.villages.append({"id": v.id, "name": v.name, "name_en": v.name_en, "town": v.properties.get("town", ""),
                                 "share": round(frac, 3), "max_depth_m": round(float(win.max()), 2),
                                 "people": people, "population": pop})
            aff.people += people
    for p in risk_points:
        rc = dem.cell(*p.geometry["coordinates"][:2])
        if rc and depth[rc] >= threshold_m:
            aff.risk_points.append({"id": p.id, "name": p.name, "name_en": p.name_en,
                                    "type": p.properties.get("risk_type", ""), "depth_m": round(float(depth[rc]), 2),
                                    "people": int(p.properties.get("people", 0))})
    for s in shelters:
        rc = dem.cell(*s.geometry["coordinates"][:2])
        if rc and depth[rc] >= threshold_m:
            aff.shelters_flooded.append({"id": s.id, "name": s.name, "name_en": s.name_en,
                                         "capacity": int(s.properties.get("capacity", 0)),
                                         "depth_m": round(float(depth[rc]), 2)})
    aff.villages.sort(key=lambda d: -d["people"])
    result.affected = aff
    return aff


def downsample_max(depth: np.ndarray, factor: int) -> np.ndarray:
    """Block maximum (for drawing a big grid with fewer columns)."""
    if factor <= 1:
        return depth
    r, c = depth.shape
    r2, c2 = r - r % factor, c - c % factor
    return depth[:r2, :c2].reshape(r2 // factor, factor, c2 // factor, factor).max(axis=(1, 3))
