"""The running host: settings, store, bus, plugins and their contributions, runtime, alerting.

A host has a role. ``"all"`` is the one-process default: it serves and runs sources. In a deployment
of several processes each web process has a ``"web"`` host (panels and routes; heartbeats read from
the store; no source, alert rule or ``on_event``) and ``twinboard worker`` a ``"worker"`` host that
runs sources, alert rules and ``on_event`` while it holds the sources lease. Their buses are joined
by an event relay, and a plugin enabled, disabled or reconfigured in one process is applied in all.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core import PLUGIN_API_VERSION, __version__
from core.runtime.alerting import AlertEngine
from core.runtime.bus import Bus, Event, PluginStateChanged, ReadingsIngested, VideoDetection
from core.runtime.heartbeats import StoredHeartbeats
from core.runtime.panel_faults import PanelFaults
from core.plugins import footprint
from core.runtime.relay import EventRelay, make_notifier, process_origin
from core.runtime.federation import Federation
from core.plugins.contributions import EntityKind, PanelSpec, Reading, RouteSpec, merge_entity_kinds
from core.i18n import Translator
from core.plugins.manifest import Manifest
from core.plugins.manager import PluginManager, PluginStatus, build_plugin_manager
from core.runtime.sources import Runtime
from core.runtime.wall import WallWatcher
from core.settings import Settings
from core.data.store import Store, open_store
from core.data.twin_loader import load_twin_files

log = logging.getLogger(__name__)

ROLES = ("all", "web", "worker")


@dataclass
class Contributions:
    """What one enabled plugin contributes, collected through its register_* hooks."""

    panels: dict[str, PanelSpec] = field(default_factory=dict)
    routes: list[RouteSpec] = field(default_factory=list)
    entity_kinds: list[EntityKind] = field(default_factory=list)


class Host:
    """One per process. ``start()`` loads plugins and starts sources; ``stop()`` undoes it."""

    def __init__(self, settings: Settings, *, store: Store | None = None,
                 extra_plugins: Iterable[tuple[Any, Manifest]] = (), role: str = "all") -> None:
        if role not in ROLES:
            raise ValueError(f"host role must be one of {', '.join(ROLES)}, got {role!r}")
        self.settings = settings
        self.role = role
        self.origin = process_origin()
        self.store = store or open_store(settings.url)
        self.bus = Bus(on_error=self._subscriber_failed)
        self.translator = Translator()
        import core.api  # noqa: F401 - the plugins' one surface is the host's cost, not the first plugin's
        self._memory_baseline = footprint.rss_bytes()  # before the first plugin import (core.plugins.footprint)
        self._memory_after_start: tuple[int, set[str]] | None = None
        self.plugins: PluginManager = build_plugin_manager(settings, extra_plugins)
        watch = footprint.import_watch()
        for name, record in self.plugins.records.items():
            if record.module is not None and record.origin != "inline":
                watch.prefixes.setdefault(getattr(record.module, "__name__", name), name)
        self.runtime: Runtime | StoredHeartbeats
        if role == "web":
            self.runtime = StoredHeartbeats(self.store)
        else:
            self.runtime = Runtime(self.ingest, on_failure=self._source_failed, store=self.store,
                                   raise_alert=self.raise_alert, publish_detection=self.publish_detection)
        self.alerting = AlertEngine(self.store, self.bus, on_failure=self._plugin_failed)
        self.contributions: dict[str, Contributions] = {}
        #: placed panels whose render raised (core.runtime.panel_faults): their own error card, not the plugin's
        self.panel_faults = PanelFaults()
        self._lock = threading.RLock()
        self.started = False
        #: True where sources run and on_event is called: the one-process host, or the active worker
        self.active = role == "all"
        #: set while the process stops: long polls answer at once
        self.stopping = threading.Event()
        #: the walls' modes: long polls wait on it, screens read its cached state (core.runtime.wall)
        self.walls = WallWatcher(self.bus, self.stopping)
        #: plugins another process reported failed (a worker's source), by name
        self.remote_failures: dict[str, str] = {}
        self.relay: EventRelay | None = None
        if role != "all":
            self.relay = EventRelay(self.store, make_notifier(self.store, settings.redis_url), origin=self.origin)
        #: the five-level interconnection (core.runtime.federation), when the settings configure peers
        self.federation: Federation | None = None
        if settings.federation is not None:
            self.federation = Federation(settings.federation, self.store, self.bus)
        self.bus.subscribe(Event, self._dispatch_on_event)
        self.bus.subscribe(PluginStateChanged, self._on_plugin_state)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Host:
        """Apply stored enable flags, collect contributions, load twins, call on_startup, start sources."""
        if self.relay is not None:
            self.relay.start(self.bus)
        for name, record in self.plugins.records.items():
            if not record.loaded or record.status != PluginStatus.ENABLED:
                continue
            if not self._wanted_enabled(name):
                record.status = PluginStatus.DISABLED
                continue
            step = footprint.Step()
            self._activate(name, start_sources=False)
            step.add_to(record.memory, "startup")
        for name in self.plugins.names(PluginStatus.ENABLED):
            step = footprint.Step()
            self.plugins.call(name, "on_startup", store=self.store, bus=self.bus,
                              settings=self.plugins.records[name].settings, role=self.role)
            step.add_to(self.plugins.records[name].memory, "startup")
        if self.sources_wanted:
            for name in self.plugins.names(PluginStatus.ENABLED):
                step = footprint.Step()
                self._start_sources(name)
                step.add_to(self.plugins.records[name].memory, "startup")
        self._memory_after_start = (footprint.rss_bytes(), footprint.top_modules())
        if self.federation is not None and self.active and self.role != "web":
            self.federation.start()  # its sender runs where sources run: one per deployment
        self.started = True
        return self

    @property
    def sources_wanted(self) -> bool:
        """Whether this process should run sources now."""
        return self.active and self.settings.run_sources and self.role != "web"

    def activate(self) -> None:
        """Become the process that runs sources and ``on_event`` (a worker that took the lease)."""
        with self._lock:
            self.active = True
            if self.sources_wanted:
                for name in self.plugins.names(PluginStatus.ENABLED):
                    self._start_sources(name)
            if self.federation is not None and self.started:
                self.federation.start()

    def deactivate(self) -> None:
        """Stop running sources and ``on_event`` (a worker that lost or gave up the lease)."""
        with self._lock:
            if self.role != "all":
                self.active = False
                if self.federation is not None:
                    self.federation.stop()
            self.runtime.stop_all()

    def stop(self) -> None:
        """Stop sources, then tell plugins; safe to call twice."""
        self.stopping.set()
        self.runtime.stop_all()
        if self.federation is not None:
            self.federation.stop()
        if self.started:
            for name in self.plugins.names(PluginStatus.ENABLED):
                self.plugins.call(name, "on_shutdown")
        self.started = False
        if self.relay is not None:
            self.relay.stop()

    def _wanted_enabled(self, name: str) -> bool:
        row = self.store.plugin_state(name)
        if row is not None:
            return row.enabled
        cfg = self.settings.plugins.get(name)
        return cfg.enabled if cfg else True

    def _settings_for(self, name: str) -> Any:
        record = self.plugins.records[name]
        model = self.plugins.call(name, "register_settings_model")
        record.settings_model = model
        merged: dict[str, Any] = dict(record.manifest.settings if record.manifest else {})
        cfg = self.settings.plugins.get(name)
        if cfg:
            merged.update(cfg.settings)
        row = self.store.plugin_state(name)
        if row is not None:
            merged.update(row.settings or {})
        if model is None:
            return merged
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"register_settings_model must return a pydantic model class, got {model!r}")
        try:
            return model.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            fld = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"settings field '{fld}': {err['msg']}") from exc

    def _activate(self, name: str, *, start_sources: bool) -> None:
        """Collect one plugin's contributions; any failure marks it failed and keeps the rest."""
        record = self.plugins.records[name]
        try:
            record.settings = self._settings_for(name)
        except (TypeError, ValueError) as exc:
            self.plugins.fail(name, f"settings invalid: {exc}", None)
            return
        settings = record.settings
        contrib = Contributions()
        if record.status == PluginStatus.FAILED:
            return
        self.remote_failures.pop(name, None)
        for spec in self.plugins.call(name, "register_panels", settings=settings) or []:
            if not spec.id.startswith(name + "."):
                self.plugins.fail(name, f"panel id {spec.id!r} must start with '{name}.'", None)
                return
            contrib.panels[spec.id] = spec
        contrib.routes = list(self.plugins.call(name, "register_routes", settings=settings) or [])
        taken = {k.name: (n, k) for n, c in self.contributions.items() if n != name for k in c.entity_kinds}
        kinds, warnings = merge_entity_kinds(name, self.plugins.call(name, "register_entity_kinds") or [], taken)
        contrib.entity_kinds.extend(kinds)
        for warning in warnings:
            log.warning(warning)
        # an activation again (settings saved, re-enabled) replaces the kind warnings, keeps the others
        record.warnings = [w for w in record.warnings if "entity kind" not in w] + warnings
        locale_dir = self.plugins.call(name, "register_translations")
        if locale_dir:
            self.translator.add_domain(name, Path(locale_dir))
        files = self.plugins.call(name, "register_twin_models", settings=settings) or []
        try:
            load_twin_files(self.store, [Path(f) for f in files], plugin=name)
            self.alerting.set_rules(name, self.plugins.call(name, "register_alert_rules", settings=settings) or [])
        except Exception as exc:  # noqa: BLE001 - a plugin's bad twin file or rule is its failure
            import traceback
            self.plugins.fail(name, f"{exc.__class__.__name__}: {exc}", traceback.format_exc())
        if record.status == PluginStatus.FAILED:
            return
        record.status = PluginStatus.ENABLED
        self.contributions[name] = contrib
        if start_sources and self.sources_wanted:
            self._start_sources(name)

    def _start_sources(self, name: str) -> None:
        record = self.plugins.records[name]
        specs = self.plugins.call(name, "register_sources", settings=record.settings) or []
        if record.status == PluginStatus.ENABLED:
            self.runtime.start_plugin(name, specs, record.settings)

    def set_enabled(self, name: str, enabled: bool, actor: str = "system") -> PluginStatus:
        """Enable or disable a plugin at run time: stored, audited, sources started/stopped, panels shown/dropped."""
        with self._lock:
            record = self.plugins.records.get(name)
            if record is None:
                raise KeyError(f"no plugin named {name!r}")
            if not record.loaded:
                raise ValueError(f"plugin {name!r} is {record.status.value}: {record.error}")
            if enabled and record.status == PluginStatus.FAILED:
                # A manager re-enabling a failed plugin retries it from a clean slate.
                self.runtime.stop_plugin(name)
                record.status, record.error, record.traceback = PluginStatus.DISABLED, None, None
            self.store.set_plugin_enabled(name, enabled, actor)
            self.panel_faults.forget(name)
            if enabled and record.status != PluginStatus.ENABLED:
                self._activate(name, start_sources=True)
                if record.status == PluginStatus.ENABLED:
                    self.plugins.call(name, "on_startup", store=self.store, bus=self.bus, settings=record.settings,
                                      role=self.role)
            elif not enabled and record.status == PluginStatus.ENABLED:
                self.runtime.stop_plugin(name)
                self.alerting.drop_rules(name)
                self.contributions.pop(name, None)
                record.status = PluginStatus.DISABLED
            self.bus.publish(PluginStateChanged(plugin=name, state=record.status.value, error=record.error))
            return record.status

    def update_settings(self, name: str, values: dict[str, Any], actor: str) -> dict[str, str]:
        """Validate and store a plugin's settings; field errors (nothing saved) or {} (saved, plugin reloaded)."""
        with self._lock:
            record = self.plugins.records.get(name)
            if record is None or not record.loaded:
                return {"": f"no loaded plugin named {name!r}"}
            model = self.plugins.call(name, "register_settings_model")
            if model is None:
                return {"": "this plugin has no settings"}
            unknown = sorted(set(values) - set(model.model_fields))
            if unknown:
                return {k: "unknown field (check the spelling)" for k in unknown}
            current = record.settings.model_dump(mode="json") if isinstance(record.settings, BaseModel) else {}
            try:
                validated = model.model_validate({**current, **values})
            except ValidationError as exc:
                return {".".join(str(p) for p in e["loc"]) or "": e["msg"] for e in exc.errors()}
            self.store.set_plugin_settings(name, validated.model_dump(mode="json"), actor)
            if record.status == PluginStatus.ENABLED:
                self.runtime.stop_plugin(name)
                self.alerting.drop_rules(name)
                self._activate(name, start_sources=True)
            self.bus.publish(PluginStateChanged(plugin=name, state=record.status.value, error=record.error))
            return {}

    # -- data path ---------------------------------------------------------------------------
    def ingest(self, plugin: str, source: str, readings: Sequence[Reading]) -> int:
        """Store a batch, publish ReadingsIngested, evaluate alert rules."""
        n = self.store.ingest(readings)
        if readings:
            self.bus.publish(ReadingsIngested(plugin=plugin, source=source, count=len(readings),
                                              entity_ids=tuple(sorted({r.entity_id for r in readings}))))
            self.alerting.evaluate(readings)
        return n

    def raise_alert(self, plugin: str, draft: Any) -> Any:
        """Open or escalate an alert for ``plugin`` and publish AlertRaised when it is new or worse."""
        from core.runtime.bus import AlertRaised
        alert, changed = self.store.raise_alert(draft, plugin)
        if changed:
            self.bus.publish(AlertRaised(alert_id=alert.id or 0, plugin=plugin, rule_id=draft.rule_id,
                                         entity_id=draft.entity_id, severity=int(draft.severity), title=draft.title,
                                         drill=bool(alert.is_drill)))
        return alert

    def publish_detection(self, plugin: str, detection: VideoDetection) -> VideoDetection:
        """Publish a plugin's video detection on the bus (``SourceContext.publish_detection`` calls this).

        The event is stamped with ``plugin`` and checked first (ValueError): a camera id and a kind, a
        finite confidence in 0..1, a box of four fractions with x1 <= x2 and y1 <= y2.
        """
        d = detection
        if not d.camera_id or not d.kind:
            raise ValueError("a video detection needs a camera_id and a kind")
        if not (math.isfinite(d.confidence) and 0.0 <= d.confidence <= 1.0):
            raise ValueError(f"detection confidence {d.confidence!r} is not in 0..1")
        if d.box is not None and (len(d.box) != 4 or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in d.box)
                                  or d.box[0] > d.box[2] or d.box[1] > d.box[3]):
            raise ValueError(f"detection box {d.box!r} is not x1, y1, x2, y2 fractions of the frame")
        if d.plugin != plugin:
            d = replace(d, plugin=plugin)
        return self.bus.publish(d)  # type: ignore[return-value]

    # -- look-ups -----------------------------------------------------------------------------
    def panel(self, panel_id: str) -> tuple[str, PanelSpec | None]:
        """(plugin, spec) for a panel id; spec is None when the plugin is not enabled or lacks it."""
        plugin = panel_id.split(".", 1)[0]
        contrib = self.contributions.get(plugin)
        return plugin, (contrib.panels.get(panel_id) if contrib else None)

    def entity_kinds(self) -> dict[str, tuple[str, EntityKind]]:
        """Every enabled plugin's entity kinds: name -> (the first declaring plugin, EntityKind)."""
        out: dict[str, tuple[str, EntityKind]] = {}
        for name, contrib in self.contributions.items():
            for kind in contrib.entity_kinds:
                out.setdefault(kind.name, (name, kind))
        return out

    def all_panels(self) -> dict[str, PanelSpec]:
        return {pid: spec for c in self.contributions.values() for pid, spec in c.panels.items()}

    def health(self) -> dict[str, Any]:
        """The /api/health document."""
        plugins = []
        for name, record in self.plugins.records.items():
            beats = self.runtime.heartbeats(name)
            plugins.append({"name": name, "version": record.manifest.version if record.manifest else None,
                            "state": record.status.value, "error": record.error,
                            "sources": {k.split(".", 1)[1]: hb.as_dict() for k, hb in beats.items()}})
        doc: dict[str, Any] = {"status": "ok", "version": __version__, "plugin_api_version": PLUGIN_API_VERSION,
                               "database": self.store.engine.dialect.name, "role": self.role,
                               "process": self.origin, "active": self.active, "plugins": plugins}
        #: placed panels that failed panel_faults.report_after renders in a row (their plugins keep running)
        doc["panels_failing"] = [f.as_dict() for f in self.panel_faults.failing()]
        doc["memory"] = self.memory_report()
        if self.remote_failures:
            doc["remote_failures"] = dict(self.remote_failures)
        if self.relay is not None:
            doc["events"] = self.relay.status()
        return doc

    def memory_report(self) -> dict[str, Any]:
        """Where this process's memory goes, per plugin (what each figure means: core.plugins.footprint)."""
        return footprint.report(self.plugins.records, self._memory_baseline, self._memory_after_start)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """(ready, document) for /api/ready: the database answers and the event transport works."""
        from sqlalchemy import text
        checks: dict[str, Any] = {}
        try:
            with self.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = {"ok": False, "error": f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"}
        checks["events"] = self.relay.status() if self.relay is not None else {"transport": "in-process", "ok": True,
                                                                                 "error": None}
        ok = all(c["ok"] for c in checks.values()) and not self.stopping.is_set()
        return ok, {"ready": ok, "role": self.role, "process": self.origin, **checks}

    # -- fault reports -------------------------------------------------------------------------
    def _plugin_failed(self, plugin: str, error: str, tb: str | None) -> None:
        self.plugins.fail(plugin, error, tb)
        self.bus.publish(PluginStateChanged(plugin=plugin, state="failed", error=error))

    def _source_failed(self, plugin: str, source: str, tb: str) -> None:
        # A source that raises is restarted with back-off; the plugin is marked failed so /admin shows why.
        last = tb.strip().splitlines()[-1] if tb.strip() else "error"
        self._plugin_failed(plugin, f"source '{source}' raised {last}", tb)

    def _subscriber_failed(self, fn: Any, event: Event, exc: BaseException) -> None:
        log.error("bus subscriber %r failed on %s: %s", fn, event.topic, exc)

    def _on_plugin_state(self, event: PluginStateChanged) -> None:
        """Apply a plugin enabled, disabled or reconfigured in another process (stored there first)."""
        if not event.remote or self.stopping.is_set():
            return
        record = self.plugins.records.get(event.plugin)
        if record is None or not record.loaded:
            return
        name = event.plugin
        with self._lock:
            if event.state == PluginStatus.FAILED.value:
                self.remote_failures[name] = event.error or "failed in another process"
                return
            self.remote_failures.pop(name, None)
            row = self.store.plugin_state(name)
            wanted = row.enabled if row is not None else self._wanted_enabled(name)
            if wanted:
                if record.status == PluginStatus.FAILED:
                    self.runtime.stop_plugin(name)
                    record.status, record.error, record.traceback = PluginStatus.DISABLED, None, None
                was = record.status
                if was == PluginStatus.ENABLED:  # settings may have changed: collect everything again
                    self.runtime.stop_plugin(name)
                    self.alerting.drop_rules(name)
                self._activate(name, start_sources=True)
                if was != PluginStatus.ENABLED and record.status == PluginStatus.ENABLED:
                    self.plugins.call(name, "on_startup", store=self.store, bus=self.bus, settings=record.settings,
                                      role=self.role)
            elif record.status == PluginStatus.ENABLED:
                self.runtime.stop_plugin(name)
                self.alerting.drop_rules(name)
                self.contributions.pop(name, None)
                record.status = PluginStatus.DISABLED
            log.info("plugin %s is %s (changed in another process)", name, record.status.value)

    def _dispatch_on_event(self, event: Event) -> None:
        if not self.active:
            return  # web processes and a standby worker: the active one calls on_event
        for name in self.plugins.names(PluginStatus.ENABLED):
            self.plugins.call(name, "on_event", event=event, store=self.store,
                              settings=self.plugins.records[name].settings)
