"""What plugins contribute: declarative, frozen descriptions the host composes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# A panel's ``render`` receives a core.api.PanelContext and a source's ``poll``/``run`` a
# core.api.SourceContext. Those live in the web and runtime layers, which import this module, so they
# are typed ``Any`` here: this, the lowest layer, imports nothing above it.


class Severity(IntEnum):
    """National warning levels: I (red, most severe) to IV (blue)."""

    I = 1  # noqa: E741 - the standard's own name
    II = 2
    III = 3
    IV = 4

    @property
    def color(self) -> str:
        """The warning colour, identical in every plugin."""
        return SEVERITY_COLORS[self]


SEVERITY_COLORS = {Severity.I: "#e8363b", Severity.II: "#f5852a",
                   Severity.III: "#f6d33c", Severity.IV: "#2f8cf2"}


@dataclass(frozen=True)
class EntityKind:
    """A kind of twin entity (tank, camera, shelter...) with its map style."""

    name: str
    title_zh: str
    title_en: str
    color: str = "#4cc3ff"
    icon: str = ""


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one metric of one entity at one time (epoch seconds, UTC)."""

    entity_id: str
    metric: str
    ts: float
    value: float
    unit: str = ""


def _reading_setters() -> Callable[..., None]:
    # Sources build tens of thousands of readings a second. The generated frozen __init__ sets each field
    # through object.__setattr__; setting the slots directly is about twice as fast. Same signature, and a
    # Reading stays frozen, comparable and hashable (tests/test_store.py).
    s_entity, s_metric, s_ts, s_value, s_unit = (Reading.__dict__[f].__set__
                                                 for f in ("entity_id", "metric", "ts", "value", "unit"))

    def __init__(self: Reading, entity_id: str, metric: str, ts: float, value: float, unit: str = "") -> None:
        s_entity(self, entity_id)
        s_metric(self, metric)
        s_ts(self, ts)
        s_value(self, value)
        s_unit(self, unit)
    __init__.__qualname__ = "Reading.__init__"
    return __init__


Reading.__init__ = _reading_setters()  # type: ignore[method-assign]


@dataclass(frozen=True)
class PanelSpec:
    """A panel a plugin offers; dashboards place it by ``id`` ("plugin.panel").

    ``render(ctx)`` returns a Dash component; it runs on the server at the panel's
    refresh cadence. ``sources`` names the plugin's sources whose data it shows,
    so the host can tell how fresh the panel is.
    """

    id: str
    title_zh: str
    title_en: str
    render: Callable[[Any], Any]  # (PanelContext) -> Dash component
    sources: Sequence[str] = ()
    refresh_s: float = 5.0
    default_options: dict[str, Any] = field(default_factory=dict)
    stale_after_s: float | None = None
    #: clientside kind: "html" (server-rendered children) or "deck" (a pydeck JSON spec)
    kind: str = "html"
    #: re-render at once when the user picks something on a map of the screen (``ctx.selection``)
    follows_selection: bool = False
    #: a deck panel drawn on the host's base map of the district (land, sea, coast, boundaries, town names)
    basemap: bool = False
    #: a deck panel that also shows the layers plugins add through ``register_map_layers`` (the one map)
    map_layers: bool = False


@dataclass(frozen=True)
class MapLayerSpec:
    """A layer a plugin adds to the district one map (every deck panel with ``map_layers=True``).

    Give ``rows`` (points: each row a mapping with ``lon``, ``lat`` and optionally ``id``, ``name``,
    ``info``, ``color``; any other fields fill the ``tooltip_*`` templates) or ``layer`` (any deck.gl
    layer: a ``pydeck.Layer`` or a deck.gl JSON dict, for paths, polygons, heat maps). Both are called
    with a ``PanelContext`` of this plugin (its settings, the store, the screen's locale) each time the
    map renders. The host adds a legend chip (``title_*``, ``color``) that turns the layer on and off.
    """

    id: str
    title_zh: str
    title_en: str
    color: str | Sequence[int] = "#4cc3ff"
    rows: Callable[[Any], Iterable[Any]] | None = None  # (PanelContext) -> rows with lon, lat
    layer: Callable[[Any], Any] | None = None  # (PanelContext) -> pydeck.Layer or deck.gl JSON dict
    #: the tooltip's second line, formatted with the row's fields, e.g. "风速 {wind_ms:.1f} m/s"
    tooltip_zh: str = ""
    tooltip_en: str = ""
    #: draw each row's ``name`` beside its point (deck.gl TextLayer with the bundled Chinese font)
    labels: bool = False
    radius_px: float = 7.0

    def __post_init__(self) -> None:
        if (self.rows is None) == (self.layer is None):
            raise ValueError(f"map layer {self.id!r}: give exactly one of rows= or layer=")


@dataclass(frozen=True)
class SourceSpec:
    """A background source of readings, run by the host's supervisor.

    Give ``poll`` (called every ``interval_s`` seconds, returns readings) or ``run``
    (a long-running loop that calls ``ctx.ingest`` and ``ctx.heartbeat`` and
    returns when ``ctx.stopping`` is set). Exceptions restart it with back-off.
    """

    name: str
    interval_s: float = 1.0
    poll: Callable[[Any], Iterable[Reading] | None] | None = None  # (SourceContext) -> readings
    run: Callable[[Any], None] | None = None  # (SourceContext) -> None

    def __post_init__(self) -> None:
        if (self.poll is None) == (self.run is None):
            raise ValueError(f"source {self.name!r}: give exactly one of poll= or run=")


@dataclass(frozen=True)
class AlertDraft:
    """An alert a rule wants raised; the host de-duplicates it per (rule, entity)."""

    rule_id: str
    entity_id: str
    severity: Severity
    title: str
    message: str = ""
    value: float | None = None
    #: evidence kept with the alert (JSON-able): e.g. {"box": [...], "snapshot": "/plugins/..."}
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class ThresholdRule:
    """Declarative alert rule: a metric above (or below) limits raises an alert.

    ``limits`` maps a severity to its limit, e.g. {Severity.III: 50, Severity.II: 80}.
    The most severe limit crossed wins; a value back inside ``clear_ratio`` of the
    lowest limit clears the alert.
    """

    id: str
    metric: str
    limits: dict[Severity, float]
    title_zh: str
    title_en: str
    below: bool = False
    entity_prefix: str = ""
    clear_ratio: float = 0.95

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        """Alerts for the readings of this rule's metric that cross a limit."""
        out: list[AlertDraft] = []
        ordered = sorted(self.limits.items(), key=lambda kv: kv[0])  # I first
        for r in readings:
            if r.metric != self.metric or not r.entity_id.startswith(self.entity_prefix):
                continue
            for sev, limit in ordered:
                crossed = r.value <= limit if self.below else r.value >= limit
                if crossed:
                    out.append(AlertDraft(self.id, r.entity_id, sev, self.title_zh,
                                          f"{r.metric}={r.value:g}{r.unit} (limit {limit:g})", r.value))
                    break
        return out

    def clears(self, reading: Reading) -> bool:
        """True when ``reading`` is back inside the safe band."""
        lowest = min(self.limits.values()) if not self.below else max(self.limits.values())
        if self.below:
            return reading.value > lowest / self.clear_ratio
        return reading.value < lowest * self.clear_ratio


@dataclass(frozen=True)
class RouteSpec:
    """A Flask route a plugin adds, mounted under ``/plugins/<plugin>/``.

    Anyone who may see the screens may call it; ``role`` ("viewer", "manager",
    "admin") demands a signed-in user of at least that role. State-changing
    methods need the CSRF header like every other request.
    """

    rule: str
    view_func: Callable[..., Any]
    methods: Sequence[str] = ("GET",)
    endpoint: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class ProcessSpec:
    """A kind of helper process a plugin needs beside the web processes and the worker, such as
    video detection workers. ``twinboard up`` offers ``--<kind> N`` for it and starts N copies.

    ``argv`` is the command (run in the project folder, with the same environment as the host);
    ``{index}`` in it becomes the copy's number (1, 2, ...). ``needs_broker``: the process takes its
    work from the task broker, so ``twinboard up`` sets ``TWINBOARD_BROKER_URL`` for it and for the
    worker (starting a loopback Redis when none is configured).
    """

    kind: str
    argv: Sequence[str]
    help: str = ""
    needs_broker: bool = False

    def __post_init__(self) -> None:
        if not self.kind.replace("_", "").isalnum() or not self.kind[:1].isalpha() or self.kind != self.kind.lower():
            raise ValueError(f"process kind {self.kind!r} must be lower-case letters, digits and _ (a CLI option)")
        if self.kind in ("web", "worker", "host", "port", "config", "threads"):
            raise ValueError(f"process kind {self.kind!r} is reserved by `twinboard up`")
        if not self.argv:
            raise ValueError(f"process kind {self.kind!r}: argv is empty")


@dataclass
class Heartbeat:
    """A source's liveness: last beat, last data, last error; shared with panels."""

    last_beat: float | None = None
    last_data: float | None = None
    last_error: str | None = None
    restarts: int = 0
    running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def beat(self, *, data: bool = False) -> None:
        now = time.time()
        with self._lock:
            self.last_beat = now
            if data:
                self.last_data = now

    def as_dict(self) -> dict[str, Any]:
        return {"last_heartbeat": self.last_beat, "last_data": self.last_data,
                "last_error": self.last_error, "restarts": self.restarts, "running": self.running}
