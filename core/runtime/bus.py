"""The host's event bus: typed events, synchronous subscribers, a cursor for "what changed since N".

In one process the bus is all in memory. When web processes and a worker share the twin, the host
attaches an event relay (``core.runtime.relay``): each event is appended to the store's event log,
whose row id becomes the cursor every process shares, and other processes' events arrive through
``deliver_remote`` with ``event.remote`` true.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: every event class by its topic (class name), for events that arrive from another process
EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base of every bus event; ``seq`` is the bus cursor, ``ts`` epoch seconds."""

    seq: int = field(default=0, compare=False)
    ts: float = field(default_factory=time.time, compare=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        EVENT_TYPES[cls.__name__] = cls

    @property
    def topic(self) -> str:
        """The event's class name ("AlertRaised"...): what ``/api/changes`` and the relay call it."""
        return type(self).__name__

    @property
    def remote(self) -> bool:
        """True for an event another process published (delivered here by the event relay)."""
        return bool(self.__dict__.get("_remote", False))

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON-able fields, with its ``topic``."""
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
    #: raised by a drill (模拟演练): subscribers keep it apart from live figures
    drill: bool = False


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


@dataclass(frozen=True)
class HazardReported(Event):
    """A person reported a hazard in the field (a grid worker's patrol, say), with evidence.

    The reporting plugin publishes it on the bus it got in ``on_startup``; every enabled plugin
    receives it through ``on_event``, so the plugin that owns the place (``entity_id``: an enterprise
    of enterprise_park) can take it into its own hazard loop without importing the reporter.
    ``report_id`` is stable: a re-delivered report carries the same one, so a receiver keeps one
    record per ``(plugin, report_id)``.
    """

    plugin: str = ""              # the reporting plugin
    report_id: str = ""           # the reporter's id of the report (the same on a re-delivery)
    entity_id: str = ""           # the place it concerns, an entity id of the shared store ("" when none)
    category: str = ""            # lower_snake_case: "fire", "electrical", "chemical", "blocked_exit"...
    level: str = "general"        # "general" (一般隐患) or "major" (重大隐患)
    title: str = ""               # one line, Chinese first
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    photos: tuple[str, ...] = ()  # URLs of the evidence photos, served by the reporter
    reporter: str = ""            # who reported it (a user name)


@dataclass(frozen=True)
class MaterialsDispatched(Event):
    """Materials left a store for an incident (the command centre's 调度 step), or were sent in a drill.

    The dispatching plugin publishes it once the dispatch is stored; a plugin that keeps the stores' stock
    (supplies) records the movement through ``on_event`` without importing the dispatcher. ``dispatch_id`` is
    stable (the same on a re-delivery): keep one movement per ``(dispatch_id, line)``. Each line of
    ``materials`` is ``{"depot": store entity id, "sku": item code, "count": int, "name": str, "unit": str}``.
    ``drill`` is true for a drill incident: its materials never leave live stock.
    """

    plugin: str = ""              # the dispatching plugin
    dispatch_id: str = ""         # stable id of this dispatch
    incident_id: int = 0
    drill: bool = False
    actor: str = ""
    materials: tuple[dict[str, Any], ...] = ()


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """Rebuild an event from ``as_dict()`` output; None when its topic is not known in this process."""
    cls = EVENT_TYPES.get(str(data.get("topic", "")))
    if cls is None:
        return None
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            if isinstance(value, list) and "tuple" in str(f.type):  # JSON has no tuples
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


Subscriber = Callable[[Event], None]


class Relay(Protocol):
    """What the bus needs of a cross-process event relay (``core.runtime.relay.EventRelay``)."""

    def append(self, event: Event) -> int: ...
    def cursor(self) -> int: ...
    def since(self, cursor: int) -> list[Event]: ...


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
        self.relay: Relay | None = None

    def attach_relay(self, relay: Relay | None) -> None:
        """Share this bus with other processes through ``relay`` (None: in-process only)."""
        self.relay = relay

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
        """Stamp ``event`` with the next cursor, keep it in history and deliver it.

        With a relay, the event is first appended to the shared event log (its id is the cursor), so
        every other process receives it too.
        """
        if self.relay is not None:
            stamped = _restamp(event, self.relay.append(event))
        else:
            with self._lock:
                stamped = _restamp(event, next(self._seq))
                self._history.append(stamped)
        self._deliver(stamped)
        return stamped

    def deliver_remote(self, event: Event) -> None:
        """Deliver an event another process published (its ``seq`` is the shared log's id)."""
        object.__setattr__(event, "_remote", True)
        self._deliver(event)

    def _deliver(self, stamped: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for kind, fn in subs:
            if isinstance(stamped, kind):
                try:
                    fn(stamped)
                except Exception as exc:  # noqa: BLE001 - a subscriber never breaks the bus
                    log.exception("bus subscriber %r failed on %s", fn, stamped.topic)
                    if self.on_error:
                        self.on_error(fn, stamped, exc)

    @property
    def cursor(self) -> int:
        """The seq of the newest event (0 when none)."""
        if self.relay is not None:
            return self.relay.cursor()
        with self._lock:
            return self._history[-1].seq if self._history else 0

    def since(self, cursor: int) -> list[Event]:
        """Events newer than ``cursor``, oldest first."""
        if self.relay is not None:
            return self.relay.since(cursor)
        with self._lock:
            return [e for e in self._history if e.seq > cursor]


def _restamp(event: Event, seq: int) -> Event:
    object.__setattr__(event, "seq", seq)
    return event
