"""Every hook a twinboard plugin may implement: the vendors' reference.

The host calls each hook with keyword arguments, once per plugin, and passes the
calling plugin its own validated settings; an implementation declares only the
arguments it needs (pluggy matches them by name). ``register_*`` hooks collect
contributions, ``on_*`` hooks notify. docs/plugins.md documents each hook with an example; a test
fails when a hook here is missing there or has no test named after it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from core.runtime.bus import Bus, Event
    from core.plugins.contributions import (EntityKind, MapLayerSpec, PanelSpec, ProcessSpec, RouteSpec, SourceSpec,
                                            ThresholdRule)
    from core.data.store import Store

PROJECT = "twinboard"
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def register_settings_model() -> type[BaseModel] | None:
    """Return the pydantic model of this plugin's settings, or None.

    The host validates the plugin's settings (manifest ``[settings]`` defaults,
    then ``config/default.yaml`` ``plugins.<name>.settings``, then what a park
    manager saved in /admin) against it and passes the resulting instance as
    ``settings`` to the other hooks. Its JSON schema drives the /admin form.
    """


@hookspec
def register_entity_kinds() -> list[EntityKind]:
    """Return the kinds of twin entity this plugin introduces (name, zh/en title, colour).

    Kinds are shared: a later plugin may place entities of a kind another plugin
    declared. A name already declared by another plugin is ignored with a warning.
    """


@hookspec
def register_twin_models(settings: Any) -> list[Path]:
    """Return twin-definition files (YAML or GeoJSON) to load into the store.

    Loading is idempotent (upsert by entity id), so the same files load on every
    start; entities carry the plugin's name so /admin can show where they came from.
    """


@hookspec
def register_panels(settings: Any) -> list[PanelSpec]:
    """Return the panels this plugin offers to dashboards.

    Each ``PanelSpec.id`` must start with ``"<plugin>."``; dashboards reference it.
    ``render(ctx)`` runs on the server at the panel's refresh cadence and returns a
    Dash component (or, for ``kind="deck"``, a ``pydeck.Deck``). An exception in
    ``render`` marks the plugin failed (traceback in /admin) and its panels show an
    error card; every other plugin's panels keep working.
    """


@hookspec
def register_dashboards() -> list[Path | dict[str, Any]]:
    """Return dashboards this plugin ships: paths of dashboard YAML files, or dashboards as dicts.

    The host also loads every ``*.yaml`` in the ``dashboards/`` folder beside the plugin's
    ``__init__.py`` without this hook; use it for dashboards kept elsewhere or built in code. They are
    read when the app is created, validated like ``config/dashboards/*.yaml`` (an error marks the plugin
    failed, naming the file, line and field) and served at ``/screen/<uid>``. A file in the operator's
    ``config/dashboards/`` with the same uid wins over the plugin's; of two plugins shipping one uid,
    the first loaded keeps it. Called without settings, once per app.
    """


@hookspec
def register_map_layers(settings: Any) -> list[MapLayerSpec]:
    """Return layers this plugin adds to the district one map (``MapLayerSpec``).

    Each ``MapLayerSpec.id`` must start with ``"<plugin>."``. The host draws them on every deck
    panel whose ``PanelSpec`` has ``map_layers=True`` (the command centre's one map), above the
    base map and below that panel's own layers, each with a legend chip that turns it on and off and
    a tooltip (the row's ``name`` and ``info``, or the ``tooltip_*`` template). ``rows(ctx)`` /
    ``layer(ctx)`` run at the map's refresh cadence with a ``PanelContext`` of this plugin; an
    exception there marks the plugin failed and the map keeps the other layers.
    """


@hookspec
def register_sources(settings: Any) -> list[SourceSpec]:
    """Return background sources (simulators, MQTT, cameras) for the runtime.

    The supervisor runs each in its own thread while the plugin is enabled,
    records heartbeats and the time of the last data, restarts it with
    exponential back-off when it raises, and stops it on disable or shutdown.
    """


@hookspec
def register_alert_rules(settings: Any) -> list[ThresholdRule]:
    """Return alert rules evaluated on every batch of ingested readings.

    A rule is any object with ``id`` and ``evaluate(readings) -> list[AlertDraft]``
    (optionally ``clears(reading) -> bool``); ``ThresholdRule`` is the declarative
    one. The host keeps one open alert per (rule, entity) and publishes
    ``AlertRaised`` on the bus.
    """


@hookspec
def register_routes(settings: Any) -> list[RouteSpec]:
    """Return Flask routes, mounted under ``/plugins/<plugin>/`` on the host's server.

    Use them for downloads, webhooks or JSON APIs a plugin needs. They are only
    served while the plugin is enabled (404 otherwise).
    """


@hookspec
def register_translations() -> Path | None:
    """Return the folder of this plugin's gettext catalogs (``<locale>/LC_MESSAGES/*.po``).

    Strings the plugin passes through ``ctx.gettext`` are looked up in its own
    catalog first, then the host's.
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``twinboard`` command line (e.g. ``twinboard smoke eval``).

    ``subparsers`` is argparse's sub-parser collection: call ``subparsers.add_parser(...)``
    and ``set_defaults(fn=handler)``; the handler receives the parsed ``argparse.Namespace``
    and returns an exit code. Called without a running host (no store, no sources).
    """


@hookspec
def register_processes(settings: Any) -> list[ProcessSpec]:
    """Kinds of helper processes this plugin runs beside the host (``ProcessSpec``), e.g. video
    detection workers that take frames from the task broker.

    ``twinboard up --<kind> N`` starts N of each and stops them with the rest on Ctrl-C; on several
    machines, run the same ``argv`` under your process manager (docs/deploy.md). Called without a
    running host.
    """


@hookspec
def on_startup(store: Store, bus: Bus, settings: Any, role: str) -> None:
    """Called once in every process that loads the plugin, after the store is ready and before sources start.

    ``role`` says what this process does: ``"all"`` (the one-process default: web and sources),
    ``"web"`` (a web process: panels and routes only, no source, no ``on_event``) or ``"worker"``
    (``twinboard worker``: sources, alert rules and ``on_event``). Seed demo data, start helper
    servers or threads only where they belong (``role != "web"``); several web processes start the
    same plugin at once. Raising marks the plugin failed. At start, every enabled plugin's twin files
    are loaded before any ``on_startup``; a plugin a manager enables at run time gets ``on_startup``
    right after its activation, when its sources have already started.
    """


@hookspec
def on_event(event: Event, store: Store, settings: Any) -> None:
    """Called for every event on the host's bus (readings ingested, alerts, plugin state, other
    plugins' video detections), with this plugin's current settings.

    It is called in exactly one process: the one-process host, or the active ``twinboard worker``,
    which also receives the events web processes publish (an alert opened from the duty console, a
    drill). Web processes never call it, so an alert → incident step runs once however many web
    processes serve the screens.

    Runs on the publishing thread: keep it short, hand heavy work to a source.
    An exception is contained and recorded against the plugin.
    """


@hookspec
def on_shutdown() -> None:
    """Called once when the host stops, after the plugin's sources have stopped."""
