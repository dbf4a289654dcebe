"""Scale-out: frame grabbing and detection as Celery tasks on a worker process, Redis on loopback.

The in-process mode is what the other forest_fire tests run; this one runs the same camera loop with
TWINBOARD_BROKER_URL's path (RemoteFeed): a real redis-server and a real ``celery worker``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.web.serve import free_port

pytest.importorskip("celery")
pytest.importorskip("redis")
REDIS = shutil.which("redis-server")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REDIS is None, reason="redis-server not installed "
                                                                          "(Debian package redis-server)")]
ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    r = redis.Redis(port=port)
    for _ in range(100):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def start_worker(url: str, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "TWINBOARD_BROKER_URL": url, "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen([str(CELERY), "-A", "plugins.forest_fire.scale:celery_app", "worker", "--pool=solo",
                             "-Q", "forest_fire", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                             "--without-heartbeat", "-l", "warning"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def test_camera_loop_on_a_celery_worker(broker, tmp_path):
    from plugins.forest_fire.cameras import Camera
    from plugins.forest_fire.scale import RemoteDetector, RemoteFeed, make_celery
    from plugins.forest_fire.settings import ForestFireSettings
    from plugins.forest_fire.source import CameraWorker

    frames = []
    for i in range(5):
        f = np.zeros((120, 160, 3), np.uint8)
        f[:, :, 2] = 30 + 40 * i
        frames.append(f)
    video = tmp_path / "cam.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (160, 120))
    for f in frames:
        vw.write(f)
    vw.release()
    cam = Camera("t.cam", "t.cam", "t", "", 121.4, 28.65, 90, 60, 5000, stream=str(video), interval_s=1.0)
    settings = ForestFireSettings(model_path=str(tmp_path / "no-model.pt"))  # grabbing only: fast and model-free
    app = make_celery(broker)
    worker = start_worker(broker, tmp_path, "w1")
    try:
        feed = RemoteFeed(cam, settings, app=app, timeout_s=90)
        cw = CameraWorker(cam, settings, RemoteDetector(feed), feed=feed)
        outs = [cw.step(None) for _ in range(5)]
        assert all(o is not None for o in outs), (tmp_path / "w1.log").read_text()[-2000:]
        assert feed.last_worker not in (None, os.getpid())  # the frame came from the worker process
        reds = [int(np.median(cv2.imdecode(np.frombuffer(cw.state.jpeg, np.uint8), cv2.IMREAD_COLOR)[:, :, 2]))]
        assert abs(reds[0] - 190) <= 6  # the 5th frame of the video, decoded on the worker, shown on the wall
        assert feed.status().state == "online" and feed.status().frames == 5
    finally:
        worker.terminate()
        worker.wait(20)
    # no worker any more: the camera is shown offline, the loop goes on
    feed.timeout_s = 2
    assert cw.step(None) is None and feed.status().state == "offline"
