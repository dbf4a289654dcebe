"""Frame sources through OpenCV: a real video file, corrupt frames, a dropped stream reconnected."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from plugins.forest_fire.frames import (CameraFeed, CorruptFrame, ImageFolderSource, SnapshotSource, SourceError,
                                        VideoSource, open_source)


def frames(n, w=160, h=120):
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, :, 1] = 40 + i * 10
        cv2.putText(f, str(i), (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        out.append(f)
    return out


def write_avi(path: Path, imgs, fps=5.0) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (imgs[0].shape[1], imgs[0].shape[0]))
    assert vw.isOpened()
    for f in imgs:
        vw.write(f)
    vw.release()
    return path


def test_real_video_file_read_back_and_looped(tmp_path):
    imgs = frames(6)
    path = write_avi(tmp_path / "cam.avi", imgs)
    src = open_source(str(path))
    assert isinstance(src, VideoSource)
    feed = CameraFeed(src, interval_s=1.0)
    got = [feed.grab() for _ in range(9)]  # 6 frames, then the file loops
    assert all(g is not None and g.shape == (120, 160, 3) for g in got)
    # decoded through OpenCV: close to what was written (MJPG is lossy), frame order kept, loop restarts at 0
    greens = [int(np.median(g[:20, :20, 1])) for g in got]
    assert greens[:6] == sorted(greens[:6]) and abs(greens[6] - greens[0]) <= 3
    assert abs(greens[0] - 40) <= 4 and abs(greens[5] - 90) <= 4
    st = feed.status()
    assert st.state == "online" and st.frames == 9 and st.corrupt == 0


def test_corrupt_frame_in_a_folder_is_skipped_and_counted(tmp_path):
    for i, f in enumerate(frames(4)):
        cv2.imwrite(str(tmp_path / f"{i:03d}.jpg"), f)
    good = (tmp_path / "001.jpg").read_bytes()
    (tmp_path / "002.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(100))  # corrupt
    (tmp_path / "001b.jpg").write_bytes(good[: len(good) // 3])  # truncated
    src = open_source(str(tmp_path), loop=False)
    assert isinstance(src, ImageFolderSource)
    feed = CameraFeed(src, interval_s=1.0)
    got = [feed.grab() for _ in range(5)]
    st = feed.status()
    assert st.corrupt >= 1  # the garbage file at least (a truncated JPEG may still decode partly)
    assert sum(g is not None for g in got) == 5 - st.corrupt
    assert st.state == "online"  # a corrupt frame is never fatal


def test_corrupt_snapshot_is_counted_not_fatal():
    bodies = iter([cv2.imencode(".jpg", frames(1)[0])[1].tobytes(), b"garbage", cv2.imencode(".png", frames(2)[1])[1].tobytes()])

    class Resp:
        def __init__(self, body):
            self.body = body

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return self.body

    feed = CameraFeed(SnapshotSource("http://cam/snap.jpg", opener=lambda url, timeout: Resp(next(bodies))),
                      interval_s=1.0)
    got = [feed.grab() for _ in range(3)]
    assert [g is not None for g in got] == [True, False, True]
    assert feed.status().corrupt == 1 and feed.status().state == "online"


class FlakyStream:
    """A stream that drops after some frames and refuses reconnection a few times."""

    def __init__(self, good_before_drop=3, refuse=2):
        self.left, self.refuse, self.opens = good_before_drop, refuse, 0
        self.connected = False

    def open(self):
        self.opens += 1
        if self.opens > 1 and self.refuse > 0:
            self.refuse -= 1
            raise SourceError("connection refused")
        self.connected = True

    def close(self):
        self.connected = False

    def read(self):
        if not self.connected:
            raise SourceError("not connected")
        if self.left == 0:
            self.left = -1
            raise SourceError("stream dropped")
        self.left -= 1
        return frames(1)[0]


def test_dropped_stream_offline_within_two_intervals_then_reconnected_with_backoff():
    now = [1000.0]
    flaky = FlakyStream()
    feed = CameraFeed(flaky, interval_s=5.0, backoff=(1.0, 60.0), clock=lambda: now[0])
    for _ in range(3):
        assert feed.grab() is not None
        now[0] += 5
    assert feed.status().state == "online"
    assert feed.grab() is None            # dropped
    assert feed.status().state == "offline"   # shown offline at once (well within two intervals)
    attempts = []
    for _ in range(40):
        now[0] += 0.5
        before = feed.reconnects
        f = feed.grab()
        if feed.reconnects != before:
            attempts.append(now[0])
        if f is not None:
            break
    assert f is not None and feed.status().state == "online"
    assert feed.reconnects == 3 and len(attempts) == 3   # refused twice, then back
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[1] > gaps[0]                              # exponential back-off


def test_stalled_stream_goes_offline_after_two_intervals():
    now = [0.0]

    class Stalled:
        def open(self):
            pass

        def close(self):
            pass

        def read(self):
            raise CorruptFrame("timeout with a half frame")

    feed = CameraFeed(Stalled(), interval_s=2.0, clock=lambda: now[0])
    feed.last_frame_time, feed.connected = 0.0, True
    now[0] = 3.9
    feed.grab()
    assert feed.status().state == "online"
    now[0] = 4.1
    feed.grab()
    assert feed.status().state == "offline"


def test_frozen_picture_is_stale():
    class Frozen:
        def open(self):
            pass

        def close(self):
            pass

        def read(self):
            return frames(1)[0]

    feed = CameraFeed(Frozen(), interval_s=1.0, frozen_after=3)
    for _ in range(5):
        feed.grab()
    assert feed.status().state == "stale"


def test_http_snapshot_camera_dropped_and_reconnected(tmp_path):
    """A real snapshot camera on loopback: served, stopped (offline), served again (reconnected)."""
    jpeg = cv2.imencode(".jpg", frames(1)[0])[1].tobytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(jpeg)))
            self.end_headers()
            self.wfile.write(jpeg)

        def log_message(self, *a):
            pass

    def serve(port=0):
        srv = http.server.HTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    srv = serve()
    port = srv.server_address[1]
    now = [0.0]
    feed = CameraFeed(open_source(f"http://127.0.0.1:{port}/snap.jpg"), interval_s=2.0, backoff=(1.0, 8.0),
                      clock=lambda: now[0])
    assert feed.grab() is not None and feed.status().state == "online"
    srv.shutdown()
    srv.server_close()
    now[0] += 2
    assert feed.grab() is None and feed.status().state == "offline"
    srv = serve(port)
    try:
        f = None
        for _ in range(20):
            now[0] += 1
            f = feed.grab()
            if f is not None:
                break
        assert f is not None and feed.status().state == "online" and feed.reconnects >= 1
    finally:
        srv.shutdown()
        srv.server_close()


def test_missing_video_file_is_offline_not_fatal(tmp_path):
    feed = CameraFeed(VideoSource(str(tmp_path / "nope.avi")), interval_s=1.0)
    assert feed.grab() is None
    assert feed.status().state == "offline" and "no such video file" in feed.status().last_error
