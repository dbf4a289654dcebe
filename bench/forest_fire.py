"""Forest fire watch: the camera pipeline's throughput against bare ``YOLO.predict`` on the same frames.

Renders demo frames (hills, a smoke plume; the plugin's own renderer), writes them as a Motion-JPEG
video, then in alternating rounds times

* **bare**: ``model.predict(frame)`` on the decoded frames held in memory (ultralytics alone);
* **pipeline**: what a camera does per frame: OpenCV decode from the video file, detection through
  the plugin's detector, the temporal alert rule **with the temporal evidence on** (per-preset
  background model, growth, stable base, view-change check, false sources: the plugin's default,
  ``temporal: true`` in the JSON), the annotated JPEG for the wall.

``pipeline_ratio`` = pipeline frames/s ÷ bare frames/s (medians over rounds; aim ≥ 0.9).
``fps`` = the pipeline's frames per second on this machine. ``mb_per_camera`` = resident memory added
per extra camera (feed, rule state, latest JPEG), the shared model not counted.
``--celery`` adds ``celery_scaling``: 4 cameras through two Celery workers ÷ through one (Redis on
loopback, one torch thread per worker; takes minutes).

    .venv/bin/python bench/forest_fire.py [--quick] [--frames 10] [--rounds 4] [--cameras 6] [--model PT] [--celery]

Uses the shipped weights (twin_models/forest_fire/smoke_yolo11n.pt), else the newest training
checkpoint. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import psutil  # noqa: E402

from core.web.serve import free_port  # noqa: E402
from plugins.forest_fire.cameras import Camera  # noqa: E402
from plugins.forest_fire.demo_feeds import FeedSpec, render_frames, write_video  # noqa: E402
from plugins.forest_fire.detector import SHIPPED_MODEL, SmokeDetector, newest_checkpoint  # noqa: E402
from plugins.forest_fire.frames import CameraFeed, VideoSource  # noqa: E402
from plugins.forest_fire.settings import ForestFireSettings  # noqa: E402
from plugins.forest_fire.source import CameraWorker  # noqa: E402


def bench_camera(i: int, video: Path) -> Camera:
    return Camera(f"bench.c{i}", f"bench.c{i}", f"c{i}", "", 121.4, 28.65, 90, 60, 6000, stream=str(video),
                  interval_s=1.0)


def pipeline_vs_bare(det: SmokeDetector, settings: ForestFireSettings, video: Path, rounds: int) -> dict:
    decoded = []
    cap = cv2.VideoCapture(str(video))
    while True:
        ok, f = cap.read()
        if not ok:
            break
        decoded.append(f)
    cap.release()
    yolo = det.load()
    imgsz = det.imgsz
    kw = dict(imgsz=imgsz, conf=det.conf, iou=det.iou, max_det=det.max_det, device=det.device, verbose=False)
    for f in (decoded * 2)[:6]:  # warm-up: the first predict builds the predictor; torch's first runs are slow
        yolo.predict(f, **kw)
    bare_fps: list[float] = []
    pipe_fps: list[float] = []

    def run_bare() -> None:
        t0 = time.perf_counter()
        for f in decoded:
            yolo.predict(f, **kw)
        bare_fps.append(len(decoded) / (time.perf_counter() - t0))

    def run_pipeline() -> None:
        worker = CameraWorker(bench_camera(0, video), settings, det,
                              feed=CameraFeed(VideoSource(str(video), loop=False), interval_s=1.0))
        t0 = time.perf_counter()
        n = sum(1 for _ in range(len(decoded)) if worker.step(None) is not None)
        pipe_fps.append(n / (time.perf_counter() - t0))
        worker.feed.close()

    run_pipeline()  # warm-up of the decode/annotate path, not counted
    pipe_fps.clear()
    for r in range(rounds):  # alternate which goes first: the machine's load drifts
        for fn in ((run_bare, run_pipeline) if r % 2 == 0 else (run_pipeline, run_bare)):
            fn()
    bare, pipe = statistics.median(bare_fps), statistics.median(pipe_fps)
    probe = CameraWorker(bench_camera(0, video), settings, det,
                         feed=CameraFeed(VideoSource(str(video), loop=False), interval_s=1.0))
    probe.feed.close()
    return {"pipeline_ratio": round(pipe / bare, 3), "fps": round(pipe, 2), "bare_fps": round(bare, 2),
            "frames": len(decoded), "rounds": rounds, "imgsz": imgsz, "temporal": probe.rule.temporal is not None}


def memory_per_camera(det: SmokeDetector, settings: ForestFireSettings, video: Path, cameras: int) -> float:
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    workers = []
    for i in range(cameras):
        w = CameraWorker(bench_camera(100 + i, video), settings, det,
                         feed=CameraFeed(VideoSource(str(video)), interval_s=1.0))
        for _ in range(2):
            w.step(None)
        workers.append(w)
    gc.collect()
    mb = (proc.memory_info().rss - rss0) / cameras / 2**20
    for w in workers:
        w.feed.close()
    return round(mb, 2)


def celery_scaling(video: Path, model: Path, settings: ForestFireSettings, frames: int) -> dict:
    """Throughput of 4 cameras through 1 Celery worker, then 2, then 1 again (Redis on loopback)."""
    from plugins.forest_fire.scale import RemoteDetector, RemoteFeed, make_celery

    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        return {"celery_scaling": None, "celery_error": "redis-server not installed"}
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="ffcelery"))
    redis = subprocess.Popen([redis_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                              "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    app = make_celery(url)
    env = {**os.environ, "TWINBOARD_BROKER_URL": url, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cfg = settings.model_copy(update={"model_path": str(model)})
    cams = [bench_camera(i, video) for i in range(4)]
    workers: list[subprocess.Popen] = []

    def start_worker(i: int) -> None:
        workers.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "plugins.forest_fire.scale:celery_app", "worker",
             "--pool=solo", "-Q", "forest_fire", "-n", f"bench{i}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-l", "error"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))

    def parallel(fns: list) -> None:
        ts = [threading.Thread(target=fn) for fn in fns]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def warm(n_workers: int) -> None:
        # each worker loads the model on its first task, and torch is slow on its first inferences: wait until
        # every worker has served a few tasks, and the last round was served by all of them
        served: dict[int, int] = {}
        for _ in range(40):
            feeds = [RemoteFeed(c, cfg, app=app, timeout_s=300) for c in cams]
            parallel([f.grab for f in feeds])
            pids = [f.last_worker for f in feeds if f.last_worker]
            for pid in pids:
                served[pid] = served.get(pid, 0) + 1
            if len(served) >= n_workers and min(served.values()) >= 4 and len(set(pids)) >= n_workers:
                return

    def measure() -> float:
        done: list[int] = []

        def cam_loop(c: Camera) -> None:
            feed = RemoteFeed(c, cfg, app=app, timeout_s=300)
            det = RemoteDetector(feed)
            n = 0
            for _ in range(frames):
                f = feed.grab()
                if f is not None:
                    det.detect(f)
                    n += 1
            done.append(n)
        t0 = time.perf_counter()
        parallel([lambda c=c: cam_loop(c) for c in cams])
        return sum(done) / (time.perf_counter() - t0)

    try:
        start_worker(0)
        warm(1)
        one_a = measure()
        start_worker(1)
        warm(2)
        two = measure()
        workers[1].terminate()  # back to one worker: the load on this machine drifts
        workers[1].wait(30)
        one_b = measure()
    finally:
        for w in workers:
            w.terminate()
            w.wait(30)
        redis.terminate()
        redis.wait(10)
    one = (one_a + one_b) / 2
    return {"celery_scaling": round(two / one, 3), "celery_fps_1": round(one, 2), "celery_fps_2": round(two, 2),
            "celery_fps_1_before_after": [round(one_a, 2), round(one_b, 2)], "celery_worker_threads": 1}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--cameras", type=int, default=6)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--celery", action="store_true", help="also measure celery_scaling (takes minutes)")
    ap.add_argument("--celery-frames", type=int, default=10, help="frames per camera per celery measurement")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 4 frames, 1 round, 2 cameras (no --celery); its figures say little")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.rounds, args.cameras, args.celery = min(args.frames, 4), 1, min(args.cameras, 2), False
    model = args.model or (SHIPPED_MODEL if SHIPPED_MODEL.exists() else newest_checkpoint())
    if model is None or not Path(model).exists():
        print(json.dumps({"error": "no smoke model (shipped or checkpoint)"}))
        return 1
    settings = ForestFireSettings()
    det = SmokeDetector(model, conf=settings.frame_conf)
    det.load()
    tmp = Path(tempfile.mkdtemp(prefix="ffbench"))
    frames = render_frames(FeedSpec(seed=7, plume_x=0.45, frames=args.frames, smoke_from=args.frames // 3))
    video = write_video(tmp / "bench.avi", frames)
    res = pipeline_vs_bare(det, settings, video, args.rounds)
    res["mb_per_camera"] = memory_per_camera(det, settings, video, args.cameras)
    res.update({"model": str(model), "cpu_count": psutil.cpu_count(), "load_avg_1m": round(psutil.getloadavg()[0], 2),
                "quick": args.quick})
    if args.celery:
        res.update(celery_scaling(video, Path(model), settings, args.celery_frames))
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"bare predict {res['bare_fps']:.2f} fps, pipeline {res['fps']:.2f} fps, "
          f"{res['mb_per_camera']:.1f} MB per camera")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
