"""Runs plugins' background sources in threads: heartbeats, restart with back-off, clean stop."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.runtime.bus import VideoDetection
from core.plugins.contributions import AlertDraft, Heartbeat, Position, Reading, SourceSpec

log = logging.getLogger(__name__)

IngestFn = Callable[[str, str, Sequence[Reading]], int]


@dataclass
class SourceContext:
    """What a running source gets: its settings, a stop flag, ingest and heartbeat."""

    plugin: str
    source: str
    settings: Any
    stopping: threading.Event
    heartbeat_state: Heartbeat
    _ingest: IngestFn = field(repr=False)
    #: the twin store, for reading entity definitions (write readings through ``ingest``)
    store: Any = field(default=None, repr=False)
    _raise_alert: Callable[[str, AlertDraft], Any] | None = field(default=None, repr=False)
    _publish_detection: Callable[[str, VideoDetection], VideoDetection] | None = field(default=None, repr=False)

    def raise_alert(self, draft: AlertDraft) -> Any:
        """Open (or escalate) an alert through the host: stored, de-duplicated, published on the bus.

        For detectors whose rule needs state a reading cannot carry (e.g. boxes pooled over frames).
        """
        if self._raise_alert is None:
            raise RuntimeError("this source runs without a host; no alert can be raised")
        return self._raise_alert(self.plugin, draft)

    def publish_detection(self, camera_id: str, kind: str, confidence: float, *, ts: float | None = None,
                          box: Sequence[float] | None = None, snapshot: str = "", bearing_deg: float | None = None,
                          event_id: str = "", alert_id: int | None = None) -> VideoDetection | None:
        """Tell every plugin that this source's detector saw ``kind`` on ``camera_id`` (a ``VideoDetection``
        on the host's bus, delivered to each enabled plugin's ``on_event``).

        ``ts`` is the frame time (default now), ``box`` x1, y1, x2, y2 as fractions of the frame. The host
        sets ``plugin`` and raises ValueError for an empty camera id or kind, a confidence outside 0..1 or
        a box outside the frame. Returns the published event; None when the source runs without a host
        (tests, replay), where nobody could receive it.
        """
        if self._publish_detection is None:
            return None
        det = VideoDetection(source=self.source, camera_id=str(camera_id), kind=str(kind), confidence=float(confidence),
                             box=tuple(float(v) for v in box) if box is not None else None,  # type: ignore[arg-type]
                             snapshot=snapshot, bearing_deg=None if bearing_deg is None else float(bearing_deg),
                             event_id=str(event_id), alert_id=alert_id, **({"ts": float(ts)} if ts is not None else {}))
        return self._publish_detection(self.plugin, det)

    def ingest(self, readings: Sequence[Reading]) -> int:
        """Store readings (one transaction), publish them on the bus, run alert rules."""
        n = self._ingest(self.plugin, self.source, readings)
        self.heartbeat_state.beat(data=bool(readings))
        return n

    def move(self, positions: Sequence[Position]) -> int:
        """Store where moving entities are (``Position``s): their tracks and latest positions, drawn by the
        deck panels whose ``PanelSpec.tracks`` name their kind. Counts as data for the source's freshness.

        The entities must exist (upsert them or load a twin file first); a bad position raises
        StoreError naming it and nothing of the batch is stored. Returns the number of new track points.
        """
        if self.store is None:
            raise RuntimeError("this source runs without a host; no position can be stored")
        n = self.store.move_many(positions)
        self.heartbeat_state.beat(data=bool(positions))
        return n

    def heartbeat(self) -> None:
        """Say "still alive" without data (for long-running ``run`` loops)."""
        self.heartbeat_state.beat()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop; True when the source should stop."""
        return self.stopping.wait(seconds)


class SourceRunner:
    """One source in one daemon thread, restarted with exponential back-off when it raises."""

    def __init__(self, plugin: str, spec: SourceSpec, settings: Any, ingest: IngestFn,
                 on_failure: Callable[[str, str, str], None] | None = None,
                 backoff: tuple[float, float] = (0.5, 30.0), store: Any = None,
                 raise_alert: Callable[[str, AlertDraft], Any] | None = None,
                 publish_detection: Callable[[str, VideoDetection], VideoDetection] | None = None) -> None:
        self.plugin, self.spec = plugin, spec
        self.key = f"{plugin}.{spec.name}"
        self.heartbeat = Heartbeat()
        self._stop = threading.Event()
        self._ctx = SourceContext(plugin, spec.name, settings, self._stop, self.heartbeat, ingest, store,
                                  raise_alert, publish_detection)
        self._on_failure = on_failure
        self._backoff = backoff
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"source:{self.key}", daemon=True)
        self.heartbeat.running = True
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.heartbeat.running = False

    def _loop(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            try:
                if self.spec.run is not None:
                    self.spec.run(self._ctx)
                    if self._stop.is_set():
                        return
                    raise RuntimeError("run() returned before the source was asked to stop")
                readings = self.spec.poll(self._ctx) if self.spec.poll else None
                if readings:
                    self._ctx.ingest(list(readings))
                else:
                    self.heartbeat.beat()
                delay = self._backoff[0]
                self.heartbeat.last_error = None
                if self._stop.wait(self.spec.interval_s):
                    return
            except Exception as exc:  # noqa: BLE001 - a source's fault stays in its thread
                tb = traceback.format_exc()
                self.heartbeat.last_error = f"{exc.__class__.__name__}: {exc}"
                self.heartbeat.restarts += 1
                log.warning("source %s failed (%s); restart in %.1fs", self.key, exc, delay)
                if self._on_failure:
                    self._on_failure(self.plugin, self.spec.name, tb)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self._backoff[1])


class Runtime:
    """The supervisor of every source; the one place sources are started and stopped."""

    def __init__(self, ingest: IngestFn, on_failure: Callable[[str, str, str], None] | None = None,
                 store: Any = None, backoff: tuple[float, float] = (0.5, 30.0),
                 raise_alert: Callable[[str, AlertDraft], Any] | None = None,
                 publish_detection: Callable[[str, VideoDetection], VideoDetection] | None = None) -> None:
        self._ingest = ingest
        self._raise_alert = raise_alert
        self._publish_detection = publish_detection
        self._store = store
        self._backoff = backoff
        self._on_failure = on_failure
        self._runners: dict[str, SourceRunner] = {}
        self._lock = threading.Lock()

    def start_plugin(self, plugin: str, specs: Sequence[SourceSpec], settings: Any) -> None:
        """Start the given sources of ``plugin`` (replacing running ones of the same name)."""
        self.stop_plugin(plugin)
        with self._lock:
            for spec in specs:
                runner = SourceRunner(plugin, spec, settings, self._ingest, self._on_failure, self._backoff, self._store,
                                      self._raise_alert, self._publish_detection)
                self._runners[runner.key] = runner
                runner.start()

    def stop_plugin(self, plugin: str) -> None:
        with self._lock:
            mine = [k for k in self._runners if k.startswith(plugin + ".")]
            runners = [self._runners.pop(k) for k in mine]
        for r in runners:
            r.stop()

    def stop_all(self) -> None:
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
        for r in runners:
            r.stop()

    def heartbeats(self, plugin: str | None = None) -> dict[str, Heartbeat]:
        """Heartbeat per source key ("plugin.source"), optionally of one plugin."""
        with self._lock:
            return {k: r.heartbeat for k, r in self._runners.items()
                    if plugin is None or r.plugin == plugin}

    def last_data(self, plugin: str, sources: Sequence[str] | None = None) -> float | None:
        """Newest data time over a plugin's sources (or the named ones)."""
        times = [hb.last_data for k, hb in self.heartbeats(plugin).items()
                 if hb.last_data and (not sources or k.split(".", 1)[1] in sources)]
        return max(times) if times else None
