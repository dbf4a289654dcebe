"""safety_services' settings (edited by managers in /admin, validated by pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    """Which entities are enterprises, the quality score's weights, the copy detector, photos, the demo."""

    model_config = ConfigDict(extra="forbid")
    enterprise_kinds: list[str] = Field(default_factory=lambda: ["sme_enterprise", "enterprise"],
                                        description="Entity kinds that are enterprises an agency may serve")
    copy_threshold: float = Field(0.8, ge=0.5, le=1.0,
                                  description="Two records at different enterprises whose findings text shares this "
                                              "share of character 3-grams (Jaccard) look copied")
    copy_min_chars: int = Field(20, ge=5, le=500,
                                description="Findings texts shorter than this (normalised) are never compared")
    weights: dict[str, float] = Field(
        default_factory=lambda: {"signed": 0.30, "original": 0.25, "delivered": 0.20, "evidence": 0.15,
                                 "qualified": 0.10},
        description="Quality score weights (they must sum to 1): signed-off share, records not copied, "
                    "contracted services delivered, findings with a photo, valid qualifications")
    qual_warn_days: int = Field(60, ge=1, le=365, description="Alert when an agency's qualification expires within")
    max_signoff_attempts: int = Field(5, ge=1, le=20,
                                      description="Wrong sign-off codes before a record is locked for the manager")
    photo_max_bytes: int = Field(5 * 1024 * 1024, ge=64 * 1024, le=20 * 1024 * 1024,
                                 description="Largest finding photo accepted, bytes")
    photo_max_pixels: int = Field(40_000_000, ge=1_000_000, le=200_000_000,
                                  description="Largest finding photo accepted, pixels")
    photos_subdir: str = Field("safety_services/photos", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
                               description="Where finding photos are stored, under the host's var dir")
    check_interval_s: float = Field(300.0, ge=1, le=86400, description="How often the qualification alerts are checked")
    demo: bool = Field(True, description="Seed demo agencies, staff, contracts and records (演示) when empty")

    @model_validator(mode="after")
    def _weights(self) -> Settings:
        keys = {"signed", "original", "delivered", "evidence", "qualified"}
        if set(self.weights) != keys:
            raise ValueError(f"weights needs exactly {', '.join(sorted(keys))}")
        if any(v < 0 for v in self.weights.values()) or abs(sum(self.weights.values()) - 1.0) > 1e-6:
            raise ValueError(f"weights must be ≥ 0 and sum to 1 (got {sum(self.weights.values()):.3f})")
        return self
