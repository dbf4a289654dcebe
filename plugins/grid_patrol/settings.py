"""The grid plugin's settings (edited by managers in /admin, validated by pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GridSettings(BaseModel):
    """Photo limits, check-in tolerance, when evacuation tasks are pushed, and the demo."""

    model_config = ConfigDict(extra="forbid")
    photo_max_bytes: int = Field(5 * 1024 * 1024, ge=64 * 1024, le=20 * 1024 * 1024,
                                 description="largest photo accepted, bytes (the phone shrinks larger ones first)")
    photo_max_pixels: int = Field(40_000_000, ge=1_000_000, le=200_000_000,
                                  description="largest photo accepted, pixels (no decompression bombs)")
    photos_subdir: str = Field("grid_patrol/photos", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
                               description="where photos are stored, under the host's var dir")
    checkin_max_m: float = Field(300.0, ge=10, le=5000,
                                 description="a GPS check-in farther than this from its point is marked off-site")
    evac_min_severity: int = Field(2, ge=0, le=4,
                                   description="a warning at this level or worse pushes evacuation tasks (0: never)")
    evac_warning_plugins: list[str] = Field(default_factory=lambda: ["flood_defence"],
                                            description="whose alerts count as warnings for evacuation")
    evac_radius_km: float = Field(3.0, gt=0, le=50, description="grids this close to a warning's place get tasks")
    demo_history: bool = Field(True, description="demo: seed a week of patrols and a dozen reports once")
    demo_live: bool = Field(True, description="demo: workers keep checking in; open evacuation tasks progress")
    demo_step_s: float = Field(30.0, ge=1, le=3600, description="demo: seconds between demo check-ins")
    demo_evacuate_manual: bool = Field(False, description="demo: also progress tasks a manager pushed")
