"""What plugins contribute: declarative, frozen descriptions the host composes."""

from __future__ import annotations

import re
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
    """A kind of twin entity (tank, camera, shelter...) with its map style.

    ``name`` is what twin files and ``Entity.kind`` use (lower_snake_case, at most 32 characters).
    Kinds are one namespace for the whole host: prefix a kind that is yours alone with your plugin's
    name (``hazmat_truck``). A kind several plugins mean to share (``camera``, ``shelter``) is declared
    with ``shared=True`` by each of them, with identical titles, colour and icon; any other second
    declaration of a name is ignored with a warning (the first plugin, in load order, keeps it).
    """

    #: what twin files and ``Entity.kind`` say, e.g. "hazmat_truck"
    name: str
    title_zh: str
    title_en: str
    #: map and legend colour, "#rrggbb"
    color: str = "#4cc3ff"
    #: an icon name for the map (informational)
    icon: str = ""
    #: other plugins may declare the same kind (identically, also with ``shared=True``)
    shared: bool = False

    def same_definition(self, other: EntityKind) -> bool:
        """True when ``other`` declares this kind with the same titles, colour and icon."""
        return (self.name, self.title_zh, self.title_en, self.color, self.icon) == \
            (other.name, other.title_zh, other.title_en, other.color, other.icon)


def merge_entity_kinds(plugin: str, kinds: Iterable[EntityKind],
                       taken: dict[str, tuple[str, EntityKind]]) -> tuple[list[EntityKind], list[str]]:
    """(accepted kinds, warnings) for ``plugin``'s declarations, given the kinds other plugins hold
    (``taken``: kind name -> (plugin, EntityKind)).

    A name nobody holds is accepted. A name another plugin holds is accepted only when both declare it
    ``shared=True`` with the same definition; otherwise it is ignored and a warning says why.
    """
    accepted: list[EntityKind] = []
    warnings: list[str] = []
    for kind in kinds:
        if not isinstance(kind, EntityKind):
            warnings.append(f"plugin {plugin}: register_entity_kinds returned {kind!r}, not an EntityKind; ignored")
            continue
        held = taken.get(kind.name)
        if held is None:
            accepted.append(kind)
            continue
        owner, theirs = held
        if kind.shared and theirs.shared and kind.same_definition(theirs):
            accepted.append(kind)
        elif kind.shared and theirs.shared:
            warnings.append(f"plugin {plugin}: shared entity kind {kind.name!r} differs from {owner}'s declaration "
                            f"({theirs!r}); ignored")
        else:
            warnings.append(f"plugin {plugin}: entity kind {kind.name!r} is already declared by {owner}; ignored "
                            f"(prefix kinds with the plugin name, or declare a common kind shared=True in both)")
    return accepted, warnings


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one metric of one entity at one time (epoch seconds, UTC).

    Sources return or ``ctx.ingest`` them; re-delivering the same (entity, metric, ts) is ignored.
    """

    #: the twin entity measured, e.g. "tank_levels.t1"
    entity_id: str
    #: what is measured, lower_snake_case, e.g. "level", "speed_kmh"
    metric: str
    #: when, epoch seconds (UTC)
    ts: float
    value: float
    #: shown after the value, e.g. "%", "km/h"
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


@dataclass(frozen=True, slots=True)
class Position:
    """Where a moving entity (a truck, a boat, a patrol) was at one time: WGS-84 degrees, epoch seconds.

    Sources store them with ``ctx.move(positions)`` (or ``Store.move``): each becomes a point of the
    entity's track and, when it is the newest, the entity's geometry. ``heading_deg`` (0 = north,
    clockwise) and ``speed_kmh`` are optional.
    """

    entity_id: str
    ts: float
    lon: float
    lat: float
    heading_deg: float | None = None
    speed_kmh: float | None = None


@dataclass(frozen=True)
class PanelSpec:
    """A panel a plugin offers; dashboards place it by ``id`` ("plugin.panel").

    ``render(ctx)`` returns a Dash component; it runs on the server at the panel's
    refresh cadence. ``sources`` names the plugin's sources whose data it shows,
    so the host can tell how fresh the panel is.
    """

    #: "<plugin>.<panel>"; dashboards place the panel by it
    id: str
    #: the default panel title (a placement may override it)
    title_zh: str
    title_en: str
    #: render(ctx: PanelContext) -> a Dash component, or a pydeck.Deck / deck.gl JSON dict for kind="deck"
    render: Callable[[Any], Any]  # (PanelContext) -> Dash component
    #: names of this plugin's sources whose data it shows (for the freshness badge)
    sources: Sequence[str] = ()
    #: render cadence in seconds (a placement's refresh_s overrides it)
    refresh_s: float = 5.0
    #: options merged under the placement's ``options:``
    default_options: dict[str, Any] = field(default_factory=dict)
    #: age after which the frame shows "stale" (default: the dashboard's stale_after_s)
    stale_after_s: float | None = None
    #: clientside kind: "html" (server-rendered children) or "deck" (a pydeck JSON spec)
    kind: str = "html"
    #: re-render at once when the user picks something on a map of the screen (``ctx.selection``)
    follows_selection: bool = False
    #: a deck panel drawn on the host's base map of the district (land, sea, coast, boundaries, town names)
    basemap: bool = False
    #: a deck panel that also shows the layers plugins add through ``register_map_layers`` (the one map)
    map_layers: bool = False
    #: entity kinds whose moving entities the host draws on this deck panel: each at its latest position
    #: and its recent track (``Store.move``) as a path
    tracks: Sequence[str] = ()
    #: how far back the drawn tracks reach, in seconds (a placement's option ``track_s`` overrides it)
    track_s: float = 3600.0


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

    #: unique within the plugin; heartbeats and PanelSpec.sources name it
    name: str
    #: seconds between ``poll`` calls
    interval_s: float = 1.0
    #: poll(ctx: SourceContext) -> readings (or None), called every interval_s
    poll: Callable[[Any], Iterable[Reading] | None] | None = None  # (SourceContext) -> readings
    #: run(ctx: SourceContext) -> None, a loop that returns once ctx.stopping is set
    run: Callable[[Any], None] | None = None  # (SourceContext) -> None

    def __post_init__(self) -> None:
        if (self.poll is None) == (self.run is None):
            raise ValueError(f"source {self.name!r}: give exactly one of poll= or run=")


@dataclass(frozen=True)
class AlertDraft:
    """An alert a rule wants raised; the host de-duplicates it per (rule, entity).

    ``title`` and ``message`` are the Chinese texts (shown by default), ``title_en`` and ``message_en``
    the English ones (shown with ``?lang=en``; empty: the Chinese text is shown there too).
    """

    #: the rule's id, "<plugin>.<rule>": one open alert per (rule_id, entity_id)
    rule_id: str
    entity_id: str
    severity: Severity
    #: the Chinese title
    title: str
    #: the Chinese message
    message: str = ""
    #: the value that raised it
    value: float | None = None
    #: evidence kept with the alert (JSON-able): e.g. {"box": [...], "snapshot": "/plugins/..."}
    details: dict[str, Any] | None = None
    #: the English title (empty: the Chinese one is shown)
    title_en: str = ""
    #: the English message (empty: the Chinese one is shown)
    message_en: str = ""
    #: raised by a drill (模拟演练): stored as drill data, left out of live alarm lists and counts
    drill: bool = False


#: the message a ThresholdRule writes when it has no template of its own (Chinese; a value above its limit)
DEFAULT_ALERT_MESSAGE = "{entity} {metric} {value:g}{unit}，超过限值 {limit:g}{unit}"
#: the defaults per (language, below): words for people, never the metric's id (issue 19)
_DEFAULT_MESSAGES = {("zh", False): DEFAULT_ALERT_MESSAGE,
                     ("zh", True): "{entity} {metric} {value:g}{unit}，低于限值 {limit:g}{unit}",
                     ("en", False): "{entity}: {metric} {value:g} {unit}, over the limit {limit:g} {unit}",
                     ("en", True): "{entity}: {metric} {value:g} {unit}, under the limit {limit:g} {unit}"}


class _AlertFields(dict):  # type: ignore[type-arg]
    """Format fields of an alert message; a field the template names but nobody gave shows as "{name}"."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def format_alert_message(template: str, **fields: Any) -> str:
    """``template`` formatted with ``fields`` (``str.format`` syntax); ValueError names the template when its
    format specs do not fit the values (e.g. ``{entity:.1f}``)."""
    try:
        return template.format_map(_AlertFields(fields))
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"alert message template {template!r}: {exc}") from exc


@dataclass(frozen=True)
class ThresholdRule:
    """Declarative alert rule: a metric above (or below) limits raises an alert.

    ``limits`` maps a severity to its limit, e.g. {Severity.III: 50, Severity.II: 80}.
    The most severe limit crossed wins; a value back inside ``clear_ratio`` of the
    lowest limit clears the alert.

    ``title_zh``/``title_en`` become the alert's Chinese and English titles. ``message_zh``/``message_en``
    are ``str.format`` templates of its message, with the fields ``value``, ``unit``, ``limit``, ``metric``
    (``metric_zh``/``metric_en``, the metric's label in that language, or the metric's id), ``metric_id``,
    ``entity`` (the entity's name in that language, or its id), ``entity_id`` and ``level`` (I–IV), e.g.
    ``"{entity} 车速 {value:.0f} {unit}，超过限值 {limit:g}"``. Without one the message is
    ``DEFAULT_ALERT_MESSAGE`` (``货车1 车速 77.8km/h，超过限值 75km/h``; in English
    ``Truck 1: speed 77.8 km/h, over the limit 75 km/h``, "低于"/"under" for ``below``); without ``metric_zh``
    the default leaves the metric out rather than show its id. An English template falls back to the Chinese one.
    """

    #: "<plugin>.<rule>"
    id: str
    #: the metric of the readings it looks at
    metric: str
    #: severity -> limit, e.g. {Severity.III: 50, Severity.II: 80}
    limits: dict[Severity, float]
    #: the alert's titles
    title_zh: str
    title_en: str
    #: alert when the value is at or below the limits (e.g. a low water level) instead of at or above
    below: bool = False
    #: only entities whose id starts with this
    entity_prefix: str = ""
    #: the alert clears once the value is back past the lowest limit times this (divided by it when ``below``)
    clear_ratio: float = 0.95
    #: message templates (see above); empty: DEFAULT_ALERT_MESSAGE
    message_zh: str = ""
    message_en: str = ""
    #: the metric's label in the messages' {metric} field; empty: the metric's id
    metric_zh: str = ""
    metric_en: str = ""

    def __post_init__(self) -> None:
        sample = {"value": 1.0, "unit": "", "limit": 1.0, "metric": "", "metric_id": self.metric, "entity": "",
                  "entity_id": "", "level": "I"}
        for template in (self.message_zh, self.message_en):
            if template:  # a broken template is the rule author's error, found when the rule is made
                format_alert_message(template, **sample)

    def evaluate(self, readings: Sequence[Reading],
                 entity_name: Callable[[str, str], str] | None = None) -> list[AlertDraft]:
        """Alerts for the readings of this rule's metric that cross a limit.

        ``entity_name(entity_id, lang)`` gives the ``{entity}`` field of the message templates ("zh" or
        "en"); the host passes one that reads the twin store. Without it ``{entity}`` is the entity id.
        """
        out: list[AlertDraft] = []
        ordered = sorted(self.limits.items(), key=lambda kv: kv[0])  # I first
        for r in readings:
            if r.metric != self.metric or not r.entity_id.startswith(self.entity_prefix):
                continue
            for sev, limit in ordered:
                crossed = r.value <= limit if self.below else r.value >= limit
                if crossed:
                    zh, en = self.messages(r, sev, limit, entity_name)
                    out.append(AlertDraft(self.id, r.entity_id, sev, self.title_zh, zh, r.value,
                                          title_en=self.title_en, message_en=en))
                    break
        return out

    def messages(self, reading: Reading, severity: Severity, limit: float,
                 entity_name: Callable[[str, str], str] | None = None) -> tuple[str, str]:
        """(Chinese, English) message of an alert on ``reading`` at ``severity``, from the templates."""
        out = []
        for lang, template, label in (("zh", self.message_zh, self.metric_zh),
                                      ("en", self.message_en or self.message_zh, self.metric_en or self.metric_zh)):
            if not template:
                template = _DEFAULT_MESSAGES[(lang, self.below)]
                if not label:  # no words for the metric: leave it out rather than show its id
                    template = template.replace(" {metric}", "")
            wants_name = entity_name is not None and "{entity" in template.replace("{entity_id", "")
            entity = (entity_name(reading.entity_id, lang) if wants_name else "") or reading.entity_id
            out.append(format_alert_message(template, value=reading.value, unit=reading.unit,
                                            limit=limit, metric=label or self.metric, metric_id=self.metric,
                                            entity=entity, entity_id=reading.entity_id, level=severity.name)
                       .replace(" ,", ",").replace(" ，", "，").strip())
        return out[0], out[1]

    def clears(self, reading: Reading) -> bool:
        """True when ``reading`` is back inside the safe band."""
        lowest = min(self.limits.values()) if not self.below else max(self.limits.values())
        if self.below:
            return reading.value > lowest / self.clear_ratio
        return reading.value < lowest * self.clear_ratio


@dataclass(frozen=True)
class RouteSpec:
    """A Flask route a plugin adds, mounted under ``/plugins/<plugin>/`` (``mobile=True``: under ``/m/``).

    Anyone who may see the screens may call it; ``role`` ("viewer", "manager",
    "admin") demands a signed-in user of at least that role. State-changing
    methods need the CSRF header like every other request.

    ``scoped_roles`` names the scoped roles (``"field"``...) that may also call it: a scoped user
    is refused (403, audited) on every route that does not name its role, and sees no screen.
    ``mobile=True`` mounts the route at ``/m/<rule>`` (a phone page; the first such GET route of a
    scoped role is where its users land after signing in). ``max_bytes`` lets this route take a
    request body larger than the host's 256 kB (uploads); bigger ones get 413.

    ``public=True`` mounts the route at the host's top level, ``/<rule>`` (command_center's ``/press``):
    anyone may GET it without signing in; the host sets no session or CSRF cookie on its answer.
    Such a route takes GET only, has no ``role``, ``scoped_roles``, ``mobile`` or ``max_bytes``, and
    its rule starts with a fixed segment the host does not own (``HOST_PATH_ROOTS``); otherwise
    ``ValueError`` names the rule. It must show only what may be public.
    """

    #: a Werkzeug rule under /plugins/<plugin>/, e.g. "levels.csv" or "tank/<tank_id>"
    rule: str
    #: the Flask view; gets the rule's variables as keyword arguments
    view_func: Callable[..., Any]
    methods: Sequence[str] = ("GET",)
    endpoint: str | None = None
    #: the least role a signed-in user needs ("viewer", "manager", "admin"); None: whoever may see the screens
    role: str | None = None
    scoped_roles: Sequence[str] = ()
    mobile: bool = False
    max_bytes: int | None = None
    #: mounted at the top level ``/<rule>``, readable without signing in (GET only)
    public: bool = False

    def __post_init__(self) -> None:
        if not self.public:
            return
        first = self.rule.lstrip("/").split("/", 1)[0]
        problems = []
        if set(self.methods) - {"GET", "HEAD"}:
            problems.append(f"methods {tuple(self.methods)} (GET only)")
        if self.role is not None or self.scoped_roles or self.mobile or self.max_bytes:
            problems.append("role, scoped_roles, mobile or max_bytes set")
        if not _PUBLIC_ROOT.fullmatch(first) or first in HOST_PATH_ROOTS:
            problems.append(f"first segment {first!r} (a fixed name the host does not own; host: "
                            f"{', '.join(sorted(HOST_PATH_ROOTS))})")
        if problems:
            raise ValueError(f"public route {self.rule!r}: " + "; ".join(problems))


#: First path segments the host serves itself; a ``public=True`` route may not start with one of them.
HOST_PATH_ROOTS = frozenset({"admin", "api", "screen", "playlist", "plugins", "m", "login", "logout", "assets",
                             "vendor", "favicon.ico"})
_PUBLIC_ROOT = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")  # no "_" (Dash's own paths start with one), no variable


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
