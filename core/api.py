"""The one module plugins import: the hook marker, contribution types and errors.

Everything here is the versioned plugin API (``PLUGIN_API_VERSION``); a plugin's
manifest declares the range of it that it supports, e.g. ``api_version = ">=1.0,<2"``.
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from core import PLUGIN_API_VERSION
from core.data.store import LatestValue, Store
from core.data.twin import Alert, AuditEntry, Entity, Incident, IncidentEvent, WarningPublication
from core.data.photos import (PHOTO_HEADERS, PHOTO_MIME_BY_EXT, CheckedPhoto, PhotoError, PhotoFolders,
                              check_photo, sniff_image)
from core.data.records import RecordError, RecordKinds, parse_iso_date
from core.errors import ConfigError, PluginError, TwinboardError
from core.geo.gis_import import imported_dem, imported_roads
from core.plugins.contributions import (SEVERITY_COLORS, AlertDraft, EntityKind, MapLayerSpec, PanelSpec, ProcessSpec,
                                        Reading, RouteSpec, Severity, SourceSpec, ThresholdRule)
from core.plugins.contributions import DEFAULT_ALERT_MESSAGE, Position
from core.plugins.expiry import ExpiryRule, day_stamp
from core.runtime.bus import (AlertAcknowledged, AlertClosed, AlertRaised, Bus, Event, HazardReported, MaterialsDispatched,
                              PluginStateChanged, ReadingsIngested, VideoDetection, WallModeChanged)
from core.runtime.sources import SourceContext
from core.runtime.federation import received_items as federation_received
from core.runtime.wall import WallModeError, set_wall_mode, wall_state
from core.web.auth import current_identity
from core.web.dashboards import LocalizedText
from core.web.labels import FONT_FAMILY, text_layer
from core.web.icons import ICON_NAMES, icon_layer
from core.web.mapview import fit_view
from core.web.panel_context import PanelContext, Selection
from core.web.walltext import SECONDARY_CLASS, WALL_FIGURE_MIN_PX, WALL_TEXT_MIN_PX
from core.yamlfile import load_yaml
from core.names import name_en, person_en

#: Decorate your hook implementations with this.
hookimpl = pluggy.HookimplMarker("twinboard")


def open_configured_store(config: str | Path | None = None) -> Store:
    """The twin store the settings file names, its schema brought up to date.

    ``config`` is the settings file (default: ``TWINBOARD_CONFIG``, else ``config/default.yaml``), as
    ``twinboard --config FILE`` passes it in ``args.config``. For plugin commands
    (``register_commands``), which run without a host: ``store = open_configured_store(args.config)``.
    """
    from core.data.store import open_store
    from core.settings import load_settings
    return open_store(load_settings(Path(config) if config is not None else None).url)


__all__ = [
    "PLUGIN_API_VERSION", "hookimpl",
    "AlertAcknowledged", "AlertClosed", "AlertRaised", "Bus", "Event", "PluginStateChanged",
    "ReadingsIngested", "VideoDetection", "WallModeChanged", "HazardReported", "MaterialsDispatched", "SEVERITY_COLORS", "AlertDraft", "EntityKind", "PanelSpec",
    "ProcessSpec", "Reading",
    "RouteSpec", "Severity", "SourceSpec", "ThresholdRule", "ConfigError", "PluginError",
    "TwinboardError", "PanelContext", "Selection", "SourceContext", "LatestValue", "Store",
    # the store's rows: Entity to build twin entities for Store.upsert, Alert as Store.alerts returns it;
    # incidents, their timeline and warning publications for plugins that handle incidents
    "Entity", "Alert", "Incident", "IncidentEvent", "WarningPublication",
    # the leaders' wall mode (routine / incident), stored, audited and published to every process
    "WallModeError", "set_wall_mode", "wall_state",
    # who is signed in (in a plugin route), zh/en text as dashboards use it, YAML with line numbers
    "current_identity", "LocalizedText", "load_yaml",
    # an audit entry written together with rows (Store.upsert(rows, audit=AuditEntry(...))); the store of the
    # settings file for plugin commands, which run without a host
    "AuditEntry", "open_configured_store",
    # moving entities (SourceContext.move, Store.move: tracks drawn by PanelSpec.tracks); a ThresholdRule's message
    # when it has no template of its own
    "Position", "DEFAULT_ALERT_MESSAGE",
    # maps: layers on the district one map (register_map_layers), Chinese labels with the bundled font
    "MapLayerSpec", "text_layer", "FONT_FAMILY",
    # map symbols: shapes tinted by a colour on a map (IconLayer) and in legend chips (tbLegend "icon")
    "icon_layer", "ICON_NAMES",
    # a map view that frames a set of places whole (a tilted map included)
    "fit_view",
    # the bureau's own GIS data (twinboard gis import): the road network's topology, the DEM
    "imported_roads", "imported_dem",
    # the five-level interconnection: what the levels above and below sent (docs/federation.md)
    "federation_received",
    # wall text: the smallest text size on a screen, the class that marks text secondary (docs/plugins.md)
    "WALL_TEXT_MIN_PX", "WALL_FIGURE_MIN_PX", "SECONDARY_CLASS",
    # English screens: a Chinese place or company name without an English form, in English words and pinyin
    "name_en", "person_en",
    # evidence photos checked by content (Pillow), stored by hash in a folder per owner, served inertly
    "check_photo", "sniff_image", "CheckedPhoto", "PhotoError", "PhotoFolders", "PHOTO_HEADERS", "PHOTO_MIME_BY_EXT",
    # a plugin's records as twin entities with their audit entry; bad input naming the field; dates naming it
    "RecordKinds", "RecordError", "parse_iso_date",
    # expiry alerts (certificates, qualifications) from a days-left reading stamped noon of the day
    "ExpiryRule", "day_stamp",
]
