"""law_enforcement's settings (edited by managers in /admin, validated by pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GRADES = ("A", "B", "C", "D")


class EquipmentItem(BaseModel):
    """One line of the required list (标准化配备): a unit needs ``base + per_inspector × inspectors``, rounded up."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    zh: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=60)
    short: str = Field("", max_length=4, description="column head on the screen (default: the first two characters)")
    short_en: str = Field("", max_length=6, description="English column head (default: the first five letters)")
    base: int = Field(0, ge=0, le=100, description="every unit needs this many")
    per_inspector: float = Field(0.0, ge=0, le=10, description="and this many more per inspector of the unit")
    vehicle: bool = Field(False, description="a vehicle (执法执勤车辆), counted apart on the panel")


DEFAULT_EQUIPMENT = [
    EquipmentItem(key="vehicle", short="车辆", short_en="Veh.", zh="执法执勤车辆", en="Enforcement vehicle", base=1, vehicle=True),
    EquipmentItem(key="recorder", short="记录仪", short_en="Cam", zh="执法记录仪", en="Body camera", per_inspector=1.0),
    EquipmentItem(key="terminal", short="终端", short_en="Term.", zh="移动执法终端", en="Mobile enforcement terminal", per_inspector=0.5),
    EquipmentItem(key="printer", short="打印机", short_en="Print", zh="便携式打印机", en="Portable printer", base=1),
    EquipmentItem(key="gas_detector", short="可燃气", short_en="Gas", zh="可燃气体检测仪", en="Combustible gas detector", base=1),
    EquipmentItem(key="toxic_detector", short="有毒气", short_en="Toxic", zh="有毒气体检测仪", en="Toxic gas detector", base=1),
    EquipmentItem(key="thermometer", short="测温", short_en="Therm", zh="红外测温仪", en="Infrared thermometer", base=1),
    EquipmentItem(key="rangefinder", short="测距", short_en="Range", zh="激光测距仪", en="Laser rangefinder", base=1),
]


class Settings(BaseModel):
    """The enforcement plan's rules, the alert windows, the required equipment list, the export folder."""

    model_config = ConfigDict(extra="forbid")
    plan_year: int = Field(0, ge=0, le=2100, description="Year the screen shows (0: the current year)")
    frequency: dict[str, int] = Field(
        default_factory=lambda: {"A": 4, "B": 3, "C": 2, "D": 1},
        description="Checks a year by risk grade: A 重大 (red), B 较大 (orange), C 一般 (yellow), D 低 (blue)")
    inspectors_per_task: int = Field(2, ge=1, le=5, description="Inspectors on each check (the law asks for two)")
    default_capacity: int = Field(4, ge=1, le=60,
                                  description="Checks an inspector can join a month, when his record names none")
    months: list[int] = Field(default_factory=lambda: list(range(1, 13)),
                              description="Months the plan may use (e.g. leave out the Spring Festival month)")
    enterprise_kinds: list[str] = Field(default_factory=lambda: ["sme_enterprise", "enterprise"],
                                        description="Entity kinds that are enterprises under the plan")
    cert_warn_days: int = Field(60, ge=1, le=365, description="Alert when an enforcement certificate expires within")
    overdue_grace_days: float = Field(0.0, ge=0, le=60, description="A task is overdue this long after its due date")
    behind_threshold: int = Field(1, ge=1, le=12,
                                  description="An enterprise is behind its plan with this many checks due and not done")
    check_interval_s: float = Field(60.0, ge=1, le=86400, description="How often the alerts are re-checked")
    required_equipment: list[EquipmentItem] = Field(default_factory=lambda: list(DEFAULT_EQUIPMENT),
                                                    description="Required equipment per town unit (标准化配备)")
    export_dir: str = Field("var/law_enforcement/export", description="Where the 互联网+监管 export is written")
    region_code: str = Field("331002", pattern=r"^\d{6}$", description="Administrative division code (椒江区 331002)")
    demo: bool = Field(True, description="Seed demo inspectors, equipment, this year's plan and records when empty")

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, v: dict[str, int]) -> dict[str, int]:
        if set(v) != set(GRADES):
            raise ValueError(f"needs exactly the grades {', '.join(GRADES)} (got {', '.join(sorted(v)) or 'none'})")
        for g, n in v.items():
            if not 0 <= int(n) <= 12:
                raise ValueError(f"grade {g}: {n} checks a year is not in 0..12")
        return {g: int(v[g]) for g in GRADES}

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if not 1 <= m <= 12]
        if bad or not v:
            raise ValueError(f"months must be 1..12 and not empty (got {v})")
        return sorted(set(v))

    @model_validator(mode="after")
    def _fits(self) -> Settings:
        top = max(self.frequency.values())
        if top > len(self.months):
            raise ValueError(f"frequency asks for {top} checks a year but months has only {len(self.months)}")
        keys = [e.key for e in self.required_equipment]
        if len(keys) != len(set(keys)):
            raise ValueError("required_equipment: keys must be unique")
        return self
