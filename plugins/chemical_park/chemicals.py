"""The chemical library of the plume model: toxic gases with AEGL levels, the park's flammable liquids,
unit conversions and the GB 18218-2018 major-hazard-source grade.

``PlumeError`` (input the model cannot use) lives here, at the bottom of the plume modules
(``chemicals`` ← ``stability`` ← ``gaussian`` ← ``zones``; ``plume`` re-exports them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: molar volume of an ideal gas at 25 °C and 1 atm (L/mol): ppm = mg/m³ · 24.45 / MW
MOLAR_VOLUME_L = 24.45


class PlumeError(ValueError):
    """Input the model cannot use (unknown chemical, calm wind, NaN, ...): say so, draw nothing."""


@dataclass(frozen=True)
class Chemical:
    key: str
    name_zh: str
    name_en: str
    formula: str
    mw: float                       # g/mol
    aegl: tuple[float, float, float]  # 60-min AEGL-1, AEGL-2, AEGL-3 (ppm)
    critical_t: float               # GB 18218-2018 critical quantity (t)
    beta: float                     # GB 18218-2018 correction factor β
    liquid_density: float           # kg/m³, stored liquid (for tank levels)

    @property
    def heavier_than_air(self) -> bool:
        return self.mw > 28.97

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


#: AEGL values: US EPA final AEGLs, 60-minute exposure (ppm), as listed in issue 5.
CHEMICALS: dict[str, Chemical] = {c.key: c for c in (
    Chemical("chlorine", "氯气", "Chlorine", "Cl2", 70.90, (0.50, 2.0, 20.0), 5, 4, 1410),
    Chemical("ammonia", "氨", "Ammonia", "NH3", 17.03, (30.0, 160.0, 1100.0), 10, 2, 682),
    Chemical("hydrogen_sulfide", "硫化氢", "Hydrogen sulfide", "H2S", 34.08, (0.51, 27.0, 50.0), 5, 5, 993),
    Chemical("hydrogen_chloride", "氯化氢", "Hydrogen chloride", "HCl", 36.46, (1.8, 22.0, 100.0), 20, 3, 1190),
    Chemical("hydrogen_fluoride", "氟化氢", "Hydrogen fluoride", "HF", 20.01, (1.0, 24.0, 44.0), 1, 5, 990),
    Chemical("sulfur_dioxide", "二氧化硫", "Sulfur dioxide", "SO2", 64.07, (0.20, 0.75, 30.0), 20, 2, 1460),
)}


def chemical(key: str) -> Chemical:
    """The library entry, or PlumeError naming the chemicals the model knows."""
    try:
        return CHEMICALS[key]
    except KeyError:
        raise PlumeError(f"unknown chemical {key!r}; the library has {', '.join(sorted(CHEMICALS))}") from None


def ppm_from_mg_m3(c_mg_m3: Any, mw: float) -> Any:
    return c_mg_m3 * MOLAR_VOLUME_L / mw


def mg_m3_from_ppm(ppm: Any, mw: float) -> Any:
    return ppm * mw / MOLAR_VOLUME_L


def gb18218_grade(inventory_t: Sequence[tuple[str, float]], people_500m: int) -> tuple[float, str]:
    """GB 18218-2018 major hazard source: R = α Σ βᵢ qᵢ/Qᵢ and its grade 一级 (R≥100) … 四级 (R<10).

    ``inventory_t`` pairs chemical keys with stored tonnes; α from the people within 500 m.
    """
    alpha = 2.0 if people_500m >= 100 else 1.5 if people_500m >= 50 else 1.2 if people_500m >= 30 \
        else 1.0 if people_500m >= 1 else 0.5
    r = alpha * sum(chemical(k).beta * q / chemical(k).critical_t for k, q in inventory_t)
    grade = "一级" if r >= 100 else "二级" if r >= 50 else "三级" if r >= 10 else "四级"
    return r, grade


@dataclass(frozen=True)
class Flammable:
    key: str
    name_zh: str
    name_en: str
    mw: float
    lel_vol_pct: float      # lower explosive limit, % by volume
    liquid_density: float   # kg/m³
    critical_t: float       # GB 18218-2018 critical quantity (t)
    beta: float = 1.0       # correction factor assumed 1 for these liquids

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


#: flammable liquids the park stores: no toxic threat zones (fire and explosion models are not included)
FLAMMABLES: dict[str, Flammable] = {f.key: f for f in (
    Flammable("methanol", "甲醇", "Methanol", 32.04, 6.0, 791, 500),
    Flammable("toluene", "甲苯", "Toluene", 92.14, 1.1, 867, 500),
)}


def substance(key: str) -> Chemical | Flammable:
    """A toxic chemical or a flammable liquid from the library, or PlumeError."""
    if key in FLAMMABLES:
        return FLAMMABLES[key]
    try:
        return chemical(key)
    except PlumeError:
        known = sorted(CHEMICALS) + sorted(FLAMMABLES)
        raise PlumeError(f"unknown substance {key!r}; the library has {', '.join(known)}") from None
