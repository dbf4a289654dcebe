"""Frame sources through OpenCV: video files (looped), RTSP/HTTP streams, HTTP snapshot URLs, image folders.

Every source answers ``read() -> np.ndarray | None`` (a BGR frame, or None when none could be had
this time) and never raises for a bad frame or a dropped connection. :class:`CameraFeed` wraps a
source with the bookkeeping a camera needs: reconnection with exponential back-off, corrupt frames
skipped and counted, and the camera's state (online / offline / stale) for the wall.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SNAPSHOT_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class SourceError(Exception):
    """The source cannot be read (not connected, stream dropped); the feed reconnects."""


class CorruptFrame(Exception):
    """One frame could not be decoded; the feed skips and counts it."""


def valid_frame(frame: Any, expect_shape: tuple[int, ...] | None = None) -> bool:
    """A decodable BGR frame: a non-empty uint8 array of 3 channels (and the stream's size once known)."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0 or frame.ndim != 3:
        return False
    if frame.shape[2] != 3 or frame.dtype != np.uint8 or min(frame.shape[:2]) < 8:
        return False
    return expect_shape is None or frame.shape == expect_shape


class VideoSource:
    """A video file (looped when ``loop``) or a live stream (rtsp://, http(s)://...) via cv2.VideoCapture."""

    def __init__(self, url: str, loop: bool = True, open_timeout_ms: int = 5000) -> None:
        self.url, self.loop = url, loop
        self.is_file = "://" not in url
        self.open_timeout_ms = open_timeout_ms
        self.cap: cv2.VideoCapture | None = None
        self.n_frames = 0
        self.pos = 0
        self.shape: tuple[int, ...] | None = None

    def open(self) -> None:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        self.close()
        if self.is_file and not Path(self.url).exists():
            raise SourceError(f"no such video file: {self.url}")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.open_timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                  self.open_timeout_ms]
        cap = cv2.VideoCapture(self.url, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.url}")
        self.cap = cap
        self.n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if self.is_file else 0
        self.pos = 0

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
        self.cap = None

    def read(self) -> np.ndarray:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        if self.cap is None:
            self.open()
        assert self.cap is not None
        ok, frame = self.cap.read()
        self.pos += 1
        if not ok:
            if self.is_file and self.n_frames and self.pos < self.n_frames:
                raise CorruptFrame(f"{self.url}: frame {self.pos - 1} could not be decoded")
            if self.is_file and self.loop:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self.pos = 1
                ok, frame = self.cap.read()
                if ok:
                    return self._check(frame)
            raise SourceError(f"{self.url}: stream ended or dropped")
        return self._check(frame)

    def _check(self, frame: Any) -> np.ndarray:
        if not valid_frame(frame, self.shape):
            raise CorruptFrame(f"{self.url}: frame {self.pos - 1} is not a valid image")
        self.shape = frame.shape
        return frame


class ImageFolderSource:
    """The images of a folder in file-name order, one per read; looped when ``loop``."""

    def __init__(self, folder: str | Path, loop: bool = True) -> None:
        self.folder, self.loop = Path(folder), loop
        self.files: list[Path] = []
        self.index = 0
        self.last_name: str | None = None

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"no such folder: {self.folder}")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images in {self.folder}")
        self.index = 0

    def close(self) -> None:
        self.files = []

    def read(self) -> np.ndarray:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        if not self.files:
            self.open()
        if self.index >= len(self.files):
            if not self.loop:
                raise SourceError(f"{self.folder}: no more images")
            self.index = 0
        path = self.files[self.index]
        self.index += 1
        self.last_name = path.name
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if not valid_frame(frame):
            raise CorruptFrame(f"{path.name} could not be decoded")
        return frame


class SnapshotSource:
    """An HTTP(S) URL answering one JPEG/PNG per request (many cameras' "snapshot" endpoint)."""

    def __init__(self, url: str, timeout_s: float = 5.0, opener: Callable[..., Any] | None = None) -> None:
        self.url, self.timeout_s = url, timeout_s
        self._open = opener or urllib.request.urlopen

    def open(self) -> None:  # stateless
        return None

    def close(self) -> None:
        return None

    def read(self) -> np.ndarray:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        try:
            with self._open(self.url, timeout=self.timeout_s) as resp:
                body = resp.read()
        except Exception as exc:  # noqa: BLE001 - any network failure is "not connected"
            raise SourceError(f"{self.url}: {exc}") from exc
        frame = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) if body else None
        if not valid_frame(frame):
            raise CorruptFrame(f"{self.url}: snapshot could not be decoded ({len(body)} bytes)")
        return frame


def resolve_stream(stream: str, demo_dir: Path | None = None) -> str:
    """``demo://name`` → the rendered demo video under ``demo_dir``; anything else unchanged."""
    if stream.startswith("demo://"):
        from .demo_feeds import demo_path
        return str(demo_path(stream[len("demo://"):], demo_dir))
    return stream


def open_source(stream: str, demo_dir: Path | None = None, loop: bool = True) -> Any:
    """The right source for a stream spec: folder, snapshot URL (``snapshot+http://`` or an image
    URL), video file or live stream."""
    url = resolve_stream(stream, demo_dir)
    if url.startswith("snapshot+"):
        return SnapshotSource(url[len("snapshot+"):])
    low = url.lower().split("?")[0]
    if low.startswith(("http://", "https://")) and Path(low).suffix in SNAPSHOT_SUFFIXES:
        return SnapshotSource(url)
    if "://" not in url and Path(url).is_dir():
        return ImageFolderSource(url, loop=loop)
    return VideoSource(url, loop=loop)


@dataclass
class FeedStatus:
    """What the camera wall shows for one camera."""

    state: str  # online | offline | stale | starting
    last_frame_time: float | None
    frames: int
    corrupt: int
    reconnects: int
    last_error: str | None


@dataclass
class CameraFeed:
    """A source plus reconnection with back-off, corrupt-frame counting and the camera's state.

    ``grab()`` returns a frame or None and never raises. The camera is **offline** while the source
    is disconnected or when no good frame came for two intervals, **stale** when the picture is
    frozen (the same image ``frozen_after`` times in a row: a stuck encoder), else **online**.
    """

    source: Any
    interval_s: float = 5.0
    backoff: tuple[float, float] = (1.0, 60.0)
    frozen_after: int = 5
    clock: Callable[[], float] = time.time
    frames: int = 0
    corrupt: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_frame_time: float | None = None
    connected: bool = False
    next_attempt: float = 0.0
    _delay: float = 0.0
    _same: int = 0
    _last_sig: bytes | None = None
    _started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def grab(self) -> np.ndarray | None:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        now = self.clock()
        if not self.connected:
            if now < self.next_attempt:
                return None
            try:
                if self.frames or self.reconnects or self.last_error:
                    self.reconnects += 1
                self.source.open()
                self.connected = True
            except Exception as exc:  # noqa: BLE001
                self._fail(now, exc)
                return None
        try:
            frame = self.source.read()
        except CorruptFrame as exc:
            self.corrupt += 1
            self.last_error = str(exc)
            log.info("corrupt frame skipped (%d so far): %s", self.corrupt, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - SourceError or anything the backend raises
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass
            self.connected = False
            self._fail(now, exc)
            return None
        self._delay = 0.0
        self.frames += 1
        self.last_frame_time = now
        # a frozen feed's signature: every 4th pixel averaged down to 16 × 9 (a sixteenth of the full frame's cost)
        sig = cv2.resize(np.ascontiguousarray(frame[::4, ::4]), (16, 9), interpolation=cv2.INTER_AREA).tobytes()
        self._same = self._same + 1 if sig == self._last_sig else 0
        self._last_sig = sig
        return frame

    def _fail(self, now: float, exc: BaseException) -> None:
        self.last_error = f"{exc.__class__.__name__}: {exc}"
        self._delay = min(self.backoff[1], max(self.backoff[0], self._delay * 2 or self.backoff[0]))
        self.next_attempt = now + self._delay

    def status(self, now: float | None = None) -> FeedStatus:
        now = self.clock() if now is None else now
        limit = 2 * self.interval_s
        if self.last_frame_time is None:
            state = "starting" if self.connected or now - self._started <= limit else "offline"
            if self.last_error and not self.connected:
                state = "offline"
        elif not self.connected or now - self.last_frame_time > limit:
            state = "offline"
        elif self._same >= self.frozen_after:
            state = "stale"
        else:
            state = "online"
        return FeedStatus(state, self.last_frame_time, self.frames, self.corrupt, self.reconnects, self.last_error)

    def close(self) -> None:
        try:
            self.source.close()
        except Exception:  # noqa: BLE001
            pass
        self.connected = False
