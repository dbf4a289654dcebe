"""Train the smoke detector (YOLO11n from its yaml, CPU friendly, offline).

No pretrained weights are available offline, so the model starts from
``yolo11n.yaml`` (``pretrained=False``).  Three ways to run:

* fresh run:   ``train(data_yaml, out_dir, epochs=..., time_hours=...)``
* resume:      ``train(..., resume=True)`` continues ``<out_dir>/<name>/weights/last.pt``
               exactly where an interrupted run stopped (optimizer, epoch, schedule);
               ``time_hours`` may be changed on resume.
* fine-tune:   ``train(..., weights="twin_models/forest_fire/smoke_yolo11n.pt")`` starts a
               new run (new schedule) from existing weights: use it to train longer
               than one session, or to adapt the model to your own cameras' frames.

``time_hours`` uses ultralytics' own ``time=`` budget: after the first epoch it
re-estimates the number of epochs that fit and stops when the time is spent, so the
learning-rate schedule still ends properly.
"""

from __future__ import annotations

from pathlib import Path

from .offline import TRAIN_OFFLINE_ARGS, default_settings_dir, make_ultralytics_offline

DEFAULT_MODEL_CFG = "yolo11n.yaml"


def train(data_yaml: Path, out_dir: Path, imgsz: int = 416, epochs: int = 100, time_hours: float | None = None,
          resume: bool = False, weights: Path | None = None, name: str = "train", batch: int = 16,
          workers: int = 2, seed: int = 0, device: str = "cpu", cache: bool | str = "ram",
          settings_dir: Path | None = None, threads: int | None = None, **overrides) -> Path:
    """Run training; returns the run folder (``<out_dir>/<name>``, weights in ``weights/``).

    ``threads``: torch CPU threads.  ultralytics uses ``cpu_count - 1`` (1 on a 2-core box) and
    resets it when training starts; pass a number to override on a machine with idle cores.
    """
    make_ultralytics_offline(settings_dir or default_settings_dir())
    from ultralytics import YOLO  # after the offline settings, on purpose

    if threads:
        import ultralytics.utils as uu
        import ultralytics.utils.torch_utils as tu

        uu.NUM_THREADS = tu.NUM_THREADS = int(threads)

    out_dir = Path(out_dir).resolve()
    run_dir = out_dir / name
    last = run_dir / "weights" / "last.pt"
    if resume:
        if not last.exists():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
        kw = {"resume": str(last), "workers": workers, "device": device}
        if time_hours:
            kw["time"] = time_hours
        YOLO(str(last)).train(**kw)
        return run_dir

    model = YOLO(str(weights)) if weights else YOLO(DEFAULT_MODEL_CFG)
    args = dict(
        data=str(Path(data_yaml).resolve()),
        imgsz=imgsz,
        epochs=epochs,
        batch=batch,
        workers=workers,
        device=device,
        project=str(out_dir),
        name=name,
        exist_ok=True,
        seed=seed,
        deterministic=True,
        cache=cache,
        close_mosaic=3,
        patience=1000,  # small noisy val set: never stop early on it
        verbose=True,
        **TRAIN_OFFLINE_ARGS,  # amp=False, pretrained=False, plots=False
    )
    if weights:
        args["pretrained"] = True  # keep the given weights (no download: they are a local file)
    if time_hours:
        args["time"] = time_hours
    args.update(overrides)
    model.train(**args)
    return run_dir
