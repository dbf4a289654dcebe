"""The command centre's settings (edited by managers in /admin, validated by pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CommandSettings(BaseModel):
    """Incident switching, the 15-minute circle, the demo team tracker, where warnings and reports go."""

    model_config = ConfigDict(extra="forbid")
    simulate: bool = Field(True, description="Run the team tracker and RFID stock scans (demo and production)")
    interval_s: float = Field(2.0, ge=0.2, le=60, description="Tracker cadence, seconds")
    speedup: float = Field(10.0, ge=1, le=1000, description="Demo: teams travel this many times faster than real")
    circle_minutes: float = Field(15.0, ge=1, le=120, description="Rapid response circle, minutes")
    auto_incident_severity: int = Field(1, ge=0, le=4,
                                        description="Alerts at this level or worse open an incident (0: never)")
    auto_incident_plugins: list[str] = Field(default_factory=list,
                                             description="Only these plugins' alerts open incidents by themselves (empty: all)")
    cooldown_min: float = Field(30.0, ge=0, le=1440,
                                description="After an incident closes, new alerts on the same entity for this long are "
                                            "recorded on it instead of opening a new one")
    merge_km: float = Field(2.0, ge=0, le=50, description="A new alert this close to an open incident joins it")
    switch_wall: bool = Field(True, description="An auto-opened incident switches the leaders' wall to incident mode")
    wall: str = Field("leaders", pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Which wall to switch")
    nearby_km: float = Field(3.0, gt=0, le=50, description="Incident view: hazards and resources within this radius")
    road_spacing_m: float = Field(380.0, ge=100, le=2000, description="Demo road network grid spacing, metres")
    outbox: str = Field("var/warnings/outbox.jsonl", description="File channel: where published warnings are written")
    reports_dir: str = Field("var/reports", description="Where evaluation reports (HTML, PDF) are written")
    rfid_scan_s: float = Field(60.0, ge=5, le=86400, description="RFID stock scan period, seconds")
    press_issuer: str = Field("台州市椒江区应急管理局", min_length=1, max_length=100,
                              description="Press releases: who issues them (the public page and the feed's author)")
    press_issuer_en: str = Field("Jiaojiang District Emergency Management Bureau", min_length=1, max_length=120,
                                 description="Press releases: the issuer in English")
    press_hotline: str = Field("12345", pattern=r"^[0-9][0-9 ()+\-转]{2,39}$",
                               description="Press releases: the hotline a new draft is pre-filled with")
