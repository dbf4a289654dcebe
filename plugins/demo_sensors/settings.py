"""The demo plugin's settings model (its JSON schema becomes the /admin form)."""

from typing import Literal

from pydantic import BaseModel, Field


class DemoSettings(BaseModel):
    """How the simulated sensors behave."""

    interval_s: float = Field(1.0, ge=0.1, le=60, description="seconds between simulated readings")
    leak_period_s: float = Field(90, ge=10, le=3600,
                                 description="every this many seconds the T1 detector sees a leak episode")
    gas_limits_ppm: dict[Literal["I", "II", "III", "IV"], float] = Field(
        default_factory=lambda: {"III": 25.0, "II": 35.0, "I": 50.0},
        description="gas alarm limits per warning level (ppm)")
    seed: int = Field(7, description="random seed, so the demo is repeatable")
    demo_speed: float = Field(60, ge=1, le=3600,
                              description="simulated time runs this many times faster than real time (the day's "
                                          "temperature and tank pressure curve); the screens say so (演示 ×N)")
