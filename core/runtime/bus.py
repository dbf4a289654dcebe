"""The host's event bus: typed events, synchronous subscribers, a cursor for "what changed since N"."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every bus event; ``seq`` is the bus cursor, ``ts`` epoch seconds."""

    seq: int = field(default=0, compare=False)
    ts: float = field(default_factory=time.time, compare=False)

    @property
    def topic(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, **asdict(self)}


@dataclass(frozen=True)
class ReadingsIngested(Event):
    """A batch of readings was committed to the store."""

    plugin: str = ""
    source: str = ""
    count: int = 0
    entity_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertRaised(Event):
    """An alert was opened (or escalated to a more severe level)."""

    alert_id: int = 0
    plugin: str = ""
    rule_id: str = ""
    entity_id: str = ""
    severity: int = 4
    title: str = ""


@dataclass(frozen=True)
class AlertAcknowledged(Event):
    """A person acknowledged an alert."""

    alert_id: int = 0
    actor: str = ""


@dataclass(frozen=True)
class AlertClosed(Event):
    """An alert was closed, by a person or because the value returned to normal."""

    alert_id: int = 0
    actor: str = ""


@dataclass(frozen=True)
class PluginStateChanged(Event):
    """A plugin was enabled, disabled or failed."""

    plugin: str = ""
    state: str = ""
    error: str | None = None


@dataclass(frozen=True)
class WallModeChanged(Event):
    """The leaders' wall switched between "routine" and "incident" (with the incident it shows)."""

    wall: str = "leaders"
    mode: str = "routine"
    incident_id: int | None = None
    actor: str = ""


@dataclass(frozen=True)
class VideoDetection(Event):
    """A video detector saw something on a camera (smoke, fire, a person, a blocked exit...).

    The plugin that runs the detector publishes it with ``SourceContext.publish_detection`` (the host
    fills ``plugin`` and checks the fields); every enabled plugin receives it through its ``on_event``
    hook, so one plugin can act on another's detector without importing it. ``ts`` is the frame's
    time. A detection is a machine's claim: a receiver should have a person review it before acting.
    """

    plugin: str = ""              # the publishing plugin (set by the host)
    source: str = ""              # its source, e.g. the camera loop
    camera_id: str = ""           # the camera's entity id in the publisher's twin
    kind: str = ""                # what was seen, lower_snake_case: "smoke", "fire", "person", "no_helmet"...
    confidence: float = 0.0       # 0..1
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 as fractions of the frame
    snapshot: str = ""            # URL of the evidence frame, "" when none
    bearing_deg: float | None = None  # compass bearing of the box centre, for a PTZ/lookout camera
    event_id: str = ""            # the same id for repeated detections of one event
    alert_id: int | None = None   # the publisher's own alert about it, if it raised one


Subscriber = Callable[[Event], None]


class Bus:
    """In-process publish/subscribe with a bounded history for cursor queries.

    A subscriber that raises is logged and reported to ``on_error``; the others still run.
    """

    def __init__(self, history: int = 2000,
                 on_error: Callable[[Subscriber, Event, BaseException], None] | None = None) -> None:
        self._subs: list[tuple[type[Event], Subscriber]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self.on_error = on_error

    def subscribe(self, kind: type[Event], fn: Subscriber) -> Callable[[], None]:
        """Call ``fn`` for each event of ``kind`` (or a subclass); returns an unsubscribe function."""
        entry = (kind, fn)
        with self._lock:
            self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)
        return unsubscribe

    def publish(self, event: Event) -> Event:
        """Stamp ``event`` with the next cursor, keep it in history and deliver it."""
        with self._lock:
            stamped = _restamp(event, next(self._seq))
            self._history.append(stamped)
            subs = list(self._subs)
        for kind, fn in subs:
            if isinstance(stamped, kind):
                try:
                    fn(stamped)
                except Exception as exc:  # noqa: BLE001 - a subscriber never breaks the bus
                    log.exception("bus subscriber %r failed on %s", fn, stamped.topic)
                    if self.on_error:
                        self.on_error(fn, stamped, exc)
        return stamped

    @property
    def cursor(self) -> int:
        """The seq of the newest event (0 when none)."""
        with self._lock:
            return self._history[-1].seq if self._history else 0

    def since(self, cursor: int) -> list[Event]:
        """Events newer than ``cursor``, oldest first."""
        with self._lock:
            return [e for e in self._history if e.seq > cursor]


def _restamp(event: Event, seq: int) -> Event:
    object.__setattr__(event, "seq", seq)
    return event
