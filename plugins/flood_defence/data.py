"""Loading the plugin's files (DEM, scenarios, plans, typhoon track), cached per file and modification time."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from . import dem as dem_mod
from . import inundation, plans, typhoon

TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "flood_defence"


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def dem(path: Path | None = None) -> dem_mod.Dem:
    """The district DEM; the shipped DEMO grid is regenerated when its file is missing."""
    path = path or TWIN_DIR / "dem_demo.npz"
    if not path.exists() and path.name == "dem_demo.npz":
        dem_mod.generate_dem().save(path)
    return _dem(str(path), _mtime(path))


@functools.lru_cache(maxsize=4)
def _dem(path: str, _mt: float) -> dem_mod.Dem:
    return dem_mod.load_dem(Path(path))


def scenarios(path: Path | None = None) -> list[inundation.Scenario]:
    path = path or TWIN_DIR / "scenarios.yaml"
    return _scenarios(str(path), _mtime(path))


@functools.lru_cache(maxsize=4)
def _scenarios(path: str, _mt: float) -> list[inundation.Scenario]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [inundation.Scenario.from_dict(d) for d in data.get("scenarios", [])]


def plan(path: Path | None = None) -> plans.Plan:
    path = path or TWIN_DIR / "plans.yaml"
    return _plan(str(path), _mtime(path))


@functools.lru_cache(maxsize=4)
def _plan(path: str, _mt: float) -> plans.Plan:
    return plans.load_plan(Path(path))


def track(settings: Any) -> typhoon.Storm:
    """The first storm of the twin's best-track file, with the bulletin wind radii attached."""
    return storms(settings)[0]


def storms(settings: Any) -> list[typhoon.Storm]:
    """Every storm of the best-track file ``settings.typhoon_file`` (in twin_models/flood_defence, or a path)."""
    path, rpath = TWIN_DIR / settings.typhoon_file, TWIN_DIR / settings.typhoon_radii_file
    return _storms(str(path), _mtime(path), str(rpath), _mtime(rpath))


def radii_file(path: Path) -> tuple[str | None, dict[datetime, typhoon.WindRadii]]:
    """(storm number or None, wind radii per bulletin time) of a radii YAML file; ({}) when it is missing."""
    if not path.exists():
        return None, {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    radii = {}
    for row in data.get("radii", []):
        t = datetime.strptime(str(row["time"]), "%Y%m%d%H").replace(tzinfo=timezone.utc)
        radii[t] = typhoon.WindRadii(tuple(row["r7"]), tuple(row["r10"]), tuple(row["r12"]))
    return (str(data["storm"]) if data.get("storm") is not None else None), radii


def with_radii(storms: list[typhoon.Storm], rpath: Path, default_first: bool = True) -> list[typhoon.Storm]:
    """The storms with the radii file's radii attached to the storm it names (its ``storm:`` number; without
    one, to the first storm when ``default_first``). The storms given are not changed."""
    import copy
    sid, radii = radii_file(rpath)
    out = []
    for i, s in enumerate(storms):
        if radii and (s.matches(sid) if sid else default_first and i == 0):
            s = copy.copy(s)
            s.points = typhoon.attach_radii(s.points, radii)
        out.append(s)
    return out


@functools.lru_cache(maxsize=4)
def _storms(path: str, _mt: float, rpath: str, _rmt: float) -> list[typhoon.Storm]:
    return with_radii(typhoon.parse_best_track(path), Path(rpath))


@functools.lru_cache(maxsize=16)
def rehearsal(key: str, dem_mt: float, sc_mt: float) -> inundation.Result:
    """One scenario's flood, computed once per DEM and scenario file version."""
    sc = next(s for s in scenarios() if s.key == key)
    return inundation.run_scenario(dem(), sc)


def rehearsal_for(key: str) -> inundation.Result:
    return rehearsal(key, _mtime(TWIN_DIR / "dem_demo.npz"), _mtime(TWIN_DIR / "scenarios.yaml"))
