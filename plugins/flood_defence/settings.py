"""The flood-defence plugin's settings (their JSON schema is the /admin form)."""

from typing import Any

from pydantic import BaseModel, Field


class FloodSettings(BaseModel):
    """Demo storm, warning rule parameters and the place typhoon distances are measured to."""

    interval_s: float = Field(5.0, ge=0.5, le=3600, description="seconds between simulated readings")
    storm_period_s: float = Field(900, ge=60, le=86400, description="length of one demo storm cycle (s)")
    demo_speed: float = Field(24, ge=1, le=600, description="scenario time runs this many times faster in the demo storm (tide, rain, rivers, "
                                "the typhoon's track, transfers); the screens say so (演示 ×N)")
    storm_rain_peak_mm_h: float = Field(45, ge=0, le=300, description="peak rain intensity of the demo storm (mm/h)")
    backfill_h: float = Field(24, ge=0, le=72, description="hours of history the simulator writes on its first poll")
    seed: int = Field(1909, description="random seed, so the demo repeats")
    simulate: bool = Field(True, description="run the demo storm source")
    blue_margin_m: float = Field(0.3, ge=0, le=5, description="blue warning: this close below the warning level (m)")
    max_rate_m_per_min: float = Field(0.2, gt=0, le=10, description="faster water-level jumps are flagged as spikes")
    district_lon: float = Field(121.44, ge=-180, le=180, description="where typhoon distances are measured to")
    district_lat: float = Field(28.68, ge=-90, le=90)
    typhoon_file: str = Field("lekima_1909_cma_bst_demo.txt", description="CMA best-track file in twin_models/flood_defence "
                              "(files uploaded at /plugins/flood_defence/admin/best-track or with `twinboard typhoon "
                              "import FILE` are offered too)")
    typhoon_storm: str = Field("", max_length=60, description="the storm the typhoon panels show: its number (1909) or "
                               "name (Lekima, any case); empty: the storm nearest the district in the period shown")
    typhoon_radii_file: str = Field("lekima_1909_radii_demo.yaml", description="wind radii per bulletin time")
    typhoon_start: str = Field("2019080914", description="track time (UTC, YYYYMMDDHH) at the start of a demo cycle")
    typhoon_hours: float | None = Field(None, gt=0, le=480, description="track hours one demo cycle covers; empty: "
                                        "the cycle's simulated length (storm_period_s × demo_speed), so the storm "
                                        "moves at its real speed on the demo's one clock")
    forecast_hours: float = Field(72, gt=0, le=240, description="forecast points shown ahead of the analysis time")
    demo_progress: bool = Field(True, description="demo: checklist actions and transfers progress with time")


def cycle_hours(settings: Any) -> float:
    """Track (simulated) hours one demo cycle covers: ``typhoon_hours`` or storm_period_s × demo_speed."""
    if getattr(settings, "typhoon_hours", None):
        return float(settings.typhoon_hours)
    return settings.storm_period_s * settings.demo_speed / 3600.0
