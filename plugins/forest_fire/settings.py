"""The forest fire watch's settings (plugin.toml [settings] → config file → /admin)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ForestFireSettings(BaseModel):
    twin_files: list[str] = Field(
        default_factory=lambda: ["twin_models/forest_fire/cameras.yaml", "twin_models/forest_fire/forests.geojson"],
        description="twin files (relative to the project root) with the cameras and forest polygons")
    model_path: str = Field("", description="YOLO weights; empty: the shipped twin_models/forest_fire/smoke_yolo11n.pt")
    device: str = Field("cpu", description="cpu, cuda:0 or auto")
    imgsz: int = Field(0, ge=0, le=2048, description="detector input size; 0: the model's own")
    default_interval_s: float = Field(5.0, ge=0.2, le=3600, description="seconds between analysed frames "
                                      "for cameras without interval_s")
    # the alert rule (pyronear-style), see rule.py
    frame_conf: float = Field(0.05, ge=0.0, le=1.0, description="per-frame detector threshold (low)")
    alert_conf: float = Field(0.15, ge=0.0, le=1.0, description="alert when summed confidence / N exceeds this")
    n_frames: int = Field(3, ge=1, le=30, description="frames pooled (N); alert needs boxes in ceil(N/2) of them")
    max_box_width: float = Field(0.4, gt=0.0, le=1.0, description="drop boxes wider than this share of the frame")
    overlap_iou: float = Field(0.1, ge=0.0, lt=1.0, description="boxes of two frames overlapping above this IoU "
                               "are the same smoke")
    nms_iou: float = Field(0.3, ge=0.0, lt=1.0, description="NMS IoU when pooling the window's boxes")
    hysteresis: float = Field(0.8, gt=0.0, le=1.0, description="while alerting, keep the alert down to this × "
                              "alert_conf")
    group_window_s: float = Field(1800.0, ge=0, description="alerts of one camera within this many seconds are "
                                  "one event")
    min_change: float = Field(4.0, ge=0, le=255, description="a candidate whose box region changed less than this "
                              "(mean grey levels, oldest to newest frame of the window) is a still object, not "
                              "smoke, and cannot start an alert; 0 = off")
    night_mode: Literal["pause", "detect"] = Field("pause", description="visible cameras at night: pause or detect")
    night_luma: float = Field(40.0, ge=0, le=255, description="mean luma below which a visible frame is night")
    severity: Literal["I", "II", "III", "IV"] = Field("II", description="warning level of a smoke alert")
    update_every_s: float = Field(30.0, ge=1, description="while an alert is on, refresh its evidence this often")
    demo_feeds: bool = Field(True, description="render the demo camera videos (demo:// streams) on first start")
    snapshot_keep: int = Field(300, ge=10, description="alert snapshots kept on disk (oldest deleted)")
    review_role: Literal["viewer", "manager", "admin"] = Field("viewer", description="role needed to confirm or "
                                                               "dismiss an alert")
    # the site's learning loop (smoke/examples.py, registry.py, retrain.py)
    data_dir: str = Field("var", description="folder (relative to the project root) of the learning loop: "
                          "examples in <data_dir>/forest_fire/examples, models in <data_dir>/models/forest_fire")
    sample_every_min: float = Field(30.0, ge=0, le=1440, description="take a smoke-free frame of each camera as an "
                                    "example at most this often (minutes; 0 = off)")
    sample_per_bucket: int = Field(2, ge=1, le=100, description="smoke-free frames kept per camera for each "
                                   "(hour of day, light) bucket")
