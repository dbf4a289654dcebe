"""Where the demo twin lives and how to read its devices without a store (publisher, bench)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .payloads import Device

PLUGIN = "enterprise_park"
TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "enterprise_park"


def twin_files(twin_dir: Path = TWIN_DIR) -> list[Path]:
    """parks.yaml first (enterprise files relate to its parks and buildings), then one file per enterprise."""
    return [twin_dir / "parks.yaml", *sorted((twin_dir / "enterprises").glob("*.yaml"))]


def devices_from_files(paths: list[Path] | None = None) -> list[Device]:
    """The IoT devices declared in the twin files (``kind: iot_device``)."""
    out = []
    for path in paths or twin_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for e in doc.get("entities", []):
            p = e.get("properties") or {}
            if e.get("kind") == "iot_device":
                out.append(Device(p["device_id"], e["id"], p["park"], p["device_type"]))
    return out


def park_short(park_id: str) -> str:
    """The topic segment of a park: the last part of its entity id (``ep.park.xiachen`` → ``xiachen``)."""
    return park_id.rsplit(".", 1)[-1]


def topic_for(prefix: str, dev: Device) -> str:
    return f"{prefix.strip('/')}/{park_short(dev.park)}/{dev.device_type}/{dev.device_id}/data"
