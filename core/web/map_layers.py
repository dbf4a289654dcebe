"""What the host adds to a deck panel's scene: the base map under it (``PanelSpec.basemap``) and the
layers plugins register for the district one map (``register_map_layers``, ``PanelSpec.map_layers``).

It also draws moving entities (``PanelSpec.tracks``: their recent tracks and latest positions).
Order, bottom to top: base map, plugins' layers, moving entities, the panel's own layers, the panel's
labels, plugins' labels, the base map's labels. Plugins' layers get legend chips (``tbLegend``) and the one map's tooltip (name, info).
"""

from __future__ import annotations

import json
import logging
import math
import string
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.geo.basemap import BasemapError
from core.plugins.contributions import MapLayerSpec, PanelSpec
from core.plugins.manager import PluginStatus
from core.web.basemap_layers import LABEL_LAYER, NAME_LAYER, basemap_layers, client_basemap
from core.web.labels import declutter, text_layer
from core.web.panel_context import PanelContext

if TYPE_CHECKING:  # pragma: no cover
    from core.runtime.host import Host

log = logging.getLogger(__name__)
TOOLTIP = {"text": "{name}\n{info}"}
_specs: dict[tuple[int, str, int], list[MapLayerSpec]] = {}


def rgba(color: Any, alpha: int = 235) -> list[int]:
    """[r, g, b, a] from "#rrggbb" / "#rrggbbaa" or a list of 3–4 numbers."""
    if isinstance(color, str):
        h = color.lstrip("#")
        if len(h) not in (6, 8) or any(c not in string.hexdigits for c in h):
            raise ValueError(f"colour {color!r} is not #rrggbb")
        vals = [int(h[i:i + 2], 16) for i in range(0, len(h), 2)]
    else:
        vals = [int(v) for v in color]
        if len(vals) not in (3, 4):
            raise ValueError(f"colour {color!r} needs 3 or 4 numbers")
    return vals[:3] + [vals[3] if len(vals) == 4 else alpha]


def map_layer_specs(host: Host) -> list[tuple[str, MapLayerSpec]]:
    """(plugin, spec) of every enabled plugin's ``register_map_layers``; asked again when a plugin's
    settings change. A spec whose id lacks the ``<plugin>.`` prefix marks that plugin failed."""
    out = []
    for name in host.plugins.names(PluginStatus.ENABLED):
        record = host.plugins.records[name]
        key = (id(host), name, id(record.settings))
        if key not in _specs:
            specs = list(host.plugins.call(name, "register_map_layers", settings=record.settings) or [])
            bad = next((s for s in specs if not isinstance(s, MapLayerSpec) or not s.id.startswith(name + ".")), None)
            if bad is not None:
                host._plugin_failed(name, f"register_map_layers: {getattr(bad, 'id', bad)!r} must be a MapLayerSpec "
                                          f"whose id starts with '{name}.'", None)
                continue
            if record.status != PluginStatus.ENABLED:
                continue
            _specs[key] = specs
        out.extend((name, s) for s in _specs[key])
    return out


class _Lenient(string.Formatter):
    """Formats a tooltip template with a row's fields: a missing or empty field shows "–", a value its
    format spec does not fit shows as it is (a tooltip never breaks a map)."""

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        value = kwargs.get(key) if isinstance(key, str) else None
        return "–" if value is None else value

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMAT = _Lenient()


def _point_rows(ms: MapLayerSpec, raw: Any, lang: str) -> list[dict[str, Any]]:
    template = (ms.tooltip_en or ms.tooltip_zh) if lang == "en" else (ms.tooltip_zh or ms.tooltip_en)
    colour = rgba(ms.color)
    rows = []
    for i, r in enumerate(raw):
        if not isinstance(r, Mapping):
            raise TypeError(f"map layer {ms.id}: row {i} is a {type(r).__name__}, not a mapping")
        try:
            lon, lat = float(r["lon"]), float(r["lat"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"map layer {ms.id}: row {i} needs numeric 'lon' and 'lat'") from None
        if not (math.isfinite(lon) and math.isfinite(lat)):
            continue
        info = r.get("info")
        if info is None and template:
            info = _FORMAT.vformat(template, (), r)
        row = {"position": [lon, lat], "name": str(r.get("name") or ""), "info": "" if info is None else str(info),
               "color": rgba(r["color"]) if r.get("color") is not None else colour}
        if r.get("id") is not None:
            row["id"] = str(r["id"])
        rows.append(row)
    return rows


def _layer_json(obj: Any, layer_id: str) -> dict[str, Any]:
    if hasattr(obj, "to_json"):
        obj = json.loads(obj.to_json())
    if not isinstance(obj, dict) or "@@type" not in obj:
        raise TypeError(f"map layer {layer_id}: layer() must return a pydeck.Layer or a deck.gl JSON dict "
                        f"with '@@type', got {type(obj).__name__}")
    return {**obj, "id": layer_id}


def plugin_layers(host: Host, locale: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(layers, label layers, legend chips) of every enabled plugin's map layers, for one render."""
    lang = "en" if locale.startswith("en") else "zh"
    layers: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    legend: list[dict[str, Any]] = []
    for name, ms in map_layer_specs(host):
        record = host.plugins.records.get(name)
        if record is None or record.status != PluginStatus.ENABLED:
            continue
        ctx = PanelContext(plugin=name, panel_id=ms.id, options={}, locale=locale, store=host.store,
                           settings=record.settings, translate=host.translator.gettext)
        title = ms.title_en if lang == "en" else ms.title_zh
        try:
            if ms.rows is not None:
                rows = _point_rows(ms, ms.rows(ctx) or [], lang)
                layers.append({"@@type": "ScatterplotLayer", "id": ms.id, "data": rows, "getPosition": "@@=position",
                               "getFillColor": "@@=color", "getRadius": ms.radius_px, "radiusUnits": "pixels",
                               "stroked": True, "getLineColor": [7, 20, 43, 255], "lineWidthMinPixels": 1.5,
                               "pickable": True})
                ids = [ms.id]
                if ms.labels:
                    labels.append(text_layer(f"{ms.id}.labels", [{"position": r["position"], "text": r["name"]}
                                                                 for r in rows if r["name"]],
                                             size=16, offset=(0, -int(ms.radius_px) - 12)))
                    ids.append(f"{ms.id}.labels")
                legend.append({"ids": ids, "label": f"{title} {len(rows)}", "color": rgba(ms.color)[:3]})
            else:
                layers.append(_layer_json(ms.layer(ctx), ms.id))  # type: ignore[misc]
                legend.append({"ids": [ms.id], "label": title, "color": rgba(ms.color)[:3]})
        except Exception as exc:  # noqa: BLE001 - a plugin's fault stays with that plugin
            host._plugin_failed(name, f"map layer {ms.id} raised {exc.__class__.__name__}: {exc}",
                                traceback.format_exc())
    return layers, labels, legend


def track_layers(host: Host, kinds: Any, track_s: float, locale: str,
                 now: float | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(layers, legend chips) of the moving entities of ``kinds`` (``PanelSpec.tracks``): per kind a
    PathLayer ``tb-track-<kind>`` of each entity's positions of the last ``track_s`` seconds and a
    ScatterplotLayer ``tb-pos-<kind>`` of each entity at its latest position (``Store.move``)."""
    import time as _time
    lang = "en" if locale.startswith("en") else "zh"
    now = _time.time() if now is None else now
    declared = host.entity_kinds()
    layers: list[dict[str, Any]] = []
    legend: list[dict[str, Any]] = []
    for kind in kinds:
        ek = declared.get(kind, (None, None))[1]
        colour = rgba(ek.color if ek is not None else "#4cc3ff")
        entities = {e.id: e for e in host.store.entities(kind=kind)}
        tracks = host.store.tracks(entities, since=now - track_s)
        paths, points = [], []
        for eid, e in entities.items():
            name = (e.name_en or e.name) if lang == "en" else e.name
            pts = tracks.get(eid, [])
            if len(pts) >= 2:
                paths.append({"id": eid, "name": name, "info": "", "path": [[p.lon, p.lat] for p in pts],
                              "color": colour[:3] + [150]})
            geom = e.geometry or {}
            if geom.get("type") != "Point":
                continue
            last = pts[-1] if pts else None
            info = []
            if last is not None and last.speed_kmh is not None:
                info.append(f"{last.speed_kmh:.0f} km/h")
            if last is not None:
                info.append(_time.strftime("%H:%M:%S", _time.localtime(last.ts)))
            points.append({"id": eid, "name": name, "info": " · ".join(info),
                           "position": [float(v) for v in geom["coordinates"][:2]], "color": colour})
        path_id, pos_id = f"tb-track-{kind}", f"tb-pos-{kind}"
        layers.append({"@@type": "PathLayer", "id": path_id, "data": paths, "getPath": "@@=path",
                       "getColor": "@@=color", "getWidth": 3, "widthUnits": "pixels", "jointRounded": True,
                       "capRounded": True, "pickable": True})
        layers.append({"@@type": "ScatterplotLayer", "id": pos_id, "data": points, "getPosition": "@@=position",
                       "getFillColor": "@@=color", "getRadius": 7, "radiusUnits": "pixels", "stroked": True,
                       "getLineColor": [7, 20, 43, 255], "lineWidthMinPixels": 1.5, "pickable": True})
        title = (ek.title_en if lang == "en" else ek.title_zh) if ek is not None else kind
        legend.append({"ids": [path_id, pos_id], "label": f"{title} {len(points)}", "color": colour[:3]})
    return layers, legend


def compose_deck(deck: dict[str, Any], spec: PanelSpec, host: Host, locale: str,
                 height: float = 656) -> dict[str, Any]:
    """``deck`` with the base map and plugins' layers the panel asked for (a new dict); labels that
    would overlap on a map ``height`` px tall are thinned (``core.web.labels.declutter``)."""
    if not (spec.basemap or spec.map_layers or spec.tracks):
        return deck
    lang = "en" if locale.startswith("en") else "zh"
    deck = dict(deck)
    own = list(deck.get("layers") or [])
    under: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    if spec.tracks:     # moving entities: under the panel's own layers, over the plugins' layers (next)
        moving, chips = track_layers(host, spec.tracks, spec.track_s, locale)
        own = moving + own
        deck["tbLegend"] = list(deck.get("tbLegend") or []) + chips
        if not deck.get("tooltip"):
            deck["tooltip"] = TOOLTIP
    if spec.map_layers:
        layers, labels, legend = plugin_layers(host, locale)
        own = layers + own
        over += labels
        if legend:
            deck["tbLegend"] = list(deck.get("tbLegend") or []) + legend
        if layers and not deck.get("tooltip"):
            deck["tooltip"] = TOOLTIP
    if spec.basemap:
        view = deck.get("initialViewState") or {}
        try:
            under, top = basemap_layers(float(view.get("zoom", 11)), lang, host.store)
        except BasemapError as exc:   # the map still draws its own layers; the log says what is missing
            log.warning("base map unavailable: %s", exc)
        else:
            over += top
            deck["tbBasemap"] = client_basemap()
    # labels over every marker: a later layer's points would otherwise cover an earlier layer's names
    text = [lay for lay in own if lay.get("@@type") == "TextLayer"]
    deck["layers"] = under + [lay for lay in own if lay.get("@@type") != "TextLayer"] + text + over
    view = deck.get("initialViewState") or {}
    if isinstance(view.get("zoom"), (int, float)):
        deck["layers"] = declutter(deck["layers"], (LABEL_LAYER, NAME_LAYER), view, height,
                                   later=[lay["id"] for lay in over])
        below = {lay["id"] for lay in deck["layers"] if str(lay.get("id", "")).endswith("~below")}
        if below and deck.get("tbLegend"):   # a chip turns a layer's labels off on both sides of the points
            deck["tbLegend"] = [{**c, "ids": c["ids"] + [f"{i}~below" for i in c["ids"] if f"{i}~below" in below]}
                                for c in deck["tbLegend"]]
    return deck
