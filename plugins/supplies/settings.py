"""supplies' settings (edited by managers in /admin, validated by pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    """Gateway transport, environment thresholds, expiry window, demo switches."""

    model_config = ConfigDict(extra="forbid")
    mqtt_host: str = Field("127.0.0.1", description="MQTT broker the RFID gateways and store sensors publish to")
    mqtt_port: int = Field(0, ge=0, le=65535, description="Its port (0: no MQTT; gateways use the HTTP route only)")
    topic_prefix: str = Field("twinboard/supplies", pattern=r"^[A-Za-z0-9_/.-]{1,80}$",
                              description="Topics <prefix>/<store id>/rfid and <prefix>/<store id>/env")
    client_id: str = Field("twinboard-supplies", min_length=1, max_length=64, description="MQTT client id")
    humidity_limit: float = Field(70.0, ge=30, le=100, description="Humidity (%) alert for stores holding "
                                  "humidity-sensitive categories")
    humid_categories: list[str] = Field(default_factory=lambda: ["medicine", "tent"],
                                        description="Item categories that must be kept dry")
    temperature_limit: float = Field(35.0, ge=0, le=80, description="Store temperature (°C) alert")
    open_hour: int = Field(8, ge=0, le=23, description="Working hours start (a door open outside them alerts)")
    close_hour: int = Field(18, ge=1, le=24, description="Working hours end")
    expiry_warn_days: int = Field(90, ge=1, le=730, description="A batch expiring within this many days is listed")
    env_interval_s: float = Field(10.0, ge=1, le=3600, description="Demo environment sensors: seconds between readings")
    demo: bool = Field(True, description="Seed demo stores, items, batches, tagged receipts and hosted agreements")
    demo_env: bool = Field(True, description="Simulate the stores' temperature, humidity, leak and door sensors")

    @model_validator(mode="after")
    def _hours(self) -> Settings:
        if self.open_hour >= self.close_hour:
            raise ValueError(f"open_hour {self.open_hour} must be before close_hour {self.close_hour}")
        return self
