"""Dashboards and playlists as code: config/dashboards/*.yaml, plugins' own dashboards, config/playlists.yaml."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import ConfigError
from core.plugins.manifest import LocalizedText
from core.yamlfile import YamlDoc, load_yaml

if TYPE_CHECKING:  # pragma: no cover
    from core.plugins.manager import PluginManager
    from core.settings import Settings

log = logging.getLogger(__name__)
#: the folder beside a plugin's ``__init__.py`` whose ``*.yaml`` dashboards the host loads
PLUGIN_DASHBOARDS_DIR = "dashboards"
_UID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Canvas(BaseModel):
    """The fixed design size; the browser scales it uniformly to the screen."""

    model_config = ConfigDict(extra="forbid")
    width: int = Field(1920, ge=320, le=15360)
    height: int = Field(1080, ge=240, le=8640)


class PanelPlacement(BaseModel):
    """One panel on the canvas: which plugin panel, where, with which options and cadence."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    panel: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$", description="'<plugin>.<panel>'")
    title: LocalizedText | None = None
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(gt=0)
    h: int = Field(gt=0)
    refresh_s: float | None = Field(None, ge=0.5, le=3600)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _wall_text(cls, v: dict[str, Any]) -> dict[str, Any]:
        from core.web.walltext import lint_options      # an option that sets text under the wall minimum
        problems = lint_options(v)
        if problems:
            raise ValueError("; ".join(msg for _, msg in problems))
        return v

    @property
    def plugin(self) -> str:
        return self.panel.split(".", 1)[0]


class Dashboard(BaseModel):
    """A dashboard: stable uid, zh/en title, canvas, theme and placed panels."""

    model_config = ConfigDict(extra="forbid")
    uid: str
    title: LocalizedText
    subtitle: LocalizedText | None = None
    canvas: Canvas = Field(default_factory=Canvas)
    theme: str = Field("dark", pattern=r"^(dark|light)$")
    refresh_s: float = Field(5.0, ge=0.5, le=3600)
    stale_after_s: float = Field(30.0, ge=1)
    panels: list[PanelPlacement] = Field(default_factory=list)

    @field_validator("uid")
    @classmethod
    def _uid(cls, v: str) -> str:
        if not _UID_RE.match(v):
            raise ValueError("uid must be lower-case letters, digits, '-' or '_' (it appears in URLs)")
        return v

    @model_validator(mode="after")
    def _placement(self) -> Dashboard:
        seen: set[str] = set()
        for i, p in enumerate(self.panels):
            if p.key in seen:
                raise _PanelError(i, "key", f"duplicate panel key {p.key!r}")
            seen.add(p.key)
            if p.x + p.w > self.canvas.width:
                raise _PanelError(i, "w", f"panel {p.key!r} ends at x={p.x + p.w}, "
                                          f"past the canvas width {self.canvas.width}")
            if p.y + p.h > self.canvas.height:
                raise _PanelError(i, "h", f"panel {p.key!r} ends at y={p.y + p.h}, "
                                          f"past the canvas height {self.canvas.height}")
        return self

    def placement(self, key: str) -> PanelPlacement | None:
        return next((p for p in self.panels if p.key == key), None)


class _PanelError(ValueError):
    def __init__(self, index: int, field: str, message: str) -> None:
        self.index, self.field = index, field
        super().__init__(message)


class PlaylistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dashboard: str
    seconds: float = Field(60, ge=5, le=86400)


class Playlist(BaseModel):
    """Dashboards a wall rotates through in routine mode."""

    model_config = ConfigDict(extra="forbid")
    uid: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: LocalizedText
    items: list[PlaylistItem] = Field(min_length=1)
    #: The wall this playlist is (see core/runtime/wall.py); in incident mode it shows ``incident_dashboard``.
    wall: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    incident_dashboard: str | None = None


class Playlists(BaseModel):
    model_config = ConfigDict(extra="forbid")
    playlists: list[Playlist] = Field(default_factory=list)


def load_dashboard(path: Path) -> Dashboard:
    """Read and validate one dashboard file; ConfigError names file, line and field."""
    return _validate_dashboard(load_yaml(path))


def _validate_dashboard(doc: YamlDoc) -> Dashboard:
    if not isinstance(doc.data, dict):
        raise ConfigError("a dashboard file must be a YAML mapping", file=str(doc.path), line=1)
    try:
        return doc.validate(Dashboard)
    except ConfigError as exc:
        cause = exc.__cause__
        inner = _panel_error(cause)
        if inner is not None:
            loc = ["panels", inner.index, inner.field]
            raise ConfigError(str(inner), file=str(doc.path), line=doc.line_of(loc),
                              field=f"panels.{inner.index}.{inner.field}") from exc
        raise


def _panel_error(exc: BaseException | None) -> _PanelError | None:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return None
    for err in errors():
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _PanelError):
            return ctx_err
    return None


def load_dashboards(folder: Path) -> dict[str, tuple[Dashboard, Path]]:
    """Every ``*.yaml`` in ``folder`` by uid; a duplicate uid is an error naming both files."""
    out: dict[str, tuple[Dashboard, Path]] = {}
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        dash = load_dashboard(path)
        if dash.uid in out:
            raise ConfigError(f"uid {dash.uid!r} is already used by {out[dash.uid][1]}",
                              file=str(path), field="uid", line=load_yaml(path).line_of(["uid"]))
        out[dash.uid] = (dash, path)
    return out


def plugin_dashboard_sources(name: str, plugins: PluginManager) -> list[tuple[str, Any]]:
    """(where, Path or dict) of the dashboards plugin ``name`` ships: ``*.yaml`` in the ``dashboards/``
    folder beside its module's ``__init__.py``, then what its ``register_dashboards`` hook returns."""
    record = plugins.records[name]
    out: list[tuple[str, Any]] = []
    origin = getattr(record.module, "__file__", None)
    if origin:
        folder = Path(origin).parent / PLUGIN_DASHBOARDS_DIR
        if folder.is_dir():
            out += [(str(f), f) for f in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))]
    returned = plugins.call(name, "register_dashboards") or []
    if isinstance(returned, (str, Path, dict)) or not isinstance(returned, (list, tuple)):
        raise ConfigError(f"register_dashboards must return a list of paths or dicts, got {type(returned).__name__}",
                          file=f"plugin {name!r}")
    for i, item in enumerate(returned):
        if isinstance(item, (str, Path)):
            out.append((str(item), Path(item)))
        elif isinstance(item, dict):
            out.append((f"plugin {name!r} register_dashboards()[{i}]", item))
        else:
            raise ConfigError(f"item {i} is a {type(item).__name__}, not a path or a dict",
                              file=f"plugin {name!r} register_dashboards()")
    return out


def load_plugin_dashboards(plugins: PluginManager, operator: dict[str, Any] | None = None
                           ) -> dict[str, tuple[Dashboard, Path | str]]:
    """The dashboards every loaded plugin ships (``plugin_dashboard_sources``), by uid.

    A uid the operator's ``config/dashboards/`` already has (``operator``) is skipped: the operator's
    file wins. A uid two plugins ship is kept from the first (plugin load order), with a warning on
    the second. An invalid dashboard marks its plugin failed with the error naming the file, line and
    field (as ``/admin`` and ``twinboard check-config`` show), and none of that plugin's dashboards load.
    """
    from core.plugins.manager import PluginStatus
    operator = operator or {}
    out: dict[str, tuple[Dashboard, Path | str]] = {}
    owner: dict[str, str] = {}
    for name in list(plugins.records):
        record = plugins.records[name]
        if not record.loaded or record.status in (PluginStatus.FAILED, PluginStatus.INCOMPATIBLE):
            continue
        try:
            mine = []
            for where, item in plugin_dashboard_sources(name, plugins):
                if isinstance(item, Path):
                    board = load_dashboard(item)
                else:
                    board = _validate_dashboard(YamlDoc(Path(where), item, None))
                mine.append((board, item if isinstance(item, Path) else where))
        except ConfigError as exc:
            plugins.fail(name, f"dashboard invalid: {exc}", None)
            continue
        if record.status == PluginStatus.FAILED:   # register_dashboards raised
            continue
        for board, where in mine:
            if board.uid in operator:
                log.info("plugin %s: dashboard %r (%s) is overridden by %s", name, board.uid, where,
                         operator[board.uid][1] if isinstance(operator[board.uid], tuple) else "the operator")
            elif board.uid in out:
                msg = (f"plugin {name}: dashboard uid {board.uid!r} ({where}) is already shipped by plugin "
                       f"{owner[board.uid]}; ignored")
                log.warning(msg)
                record.warnings.append(msg)
            else:
                out[board.uid] = (board, where)
                owner[board.uid] = name
    return out


def all_dashboards(settings: Settings, plugins: PluginManager) -> dict[str, tuple[Dashboard, Path | str]]:
    """The operator's ``config/dashboards/`` (an error there is raised) plus plugins' dashboards; by uid,
    the operator's file winning over a plugin's with the same uid."""
    operator = load_dashboards(settings.path(settings.dashboards_dir))
    shipped = load_plugin_dashboards(plugins, operator)
    return {**shipped, **operator}


def load_playlists(path: Path, dashboards: dict[str, Any]) -> dict[str, Playlist]:
    """Playlists by uid; each item must name a known dashboard."""
    if not path.exists():
        return {}
    doc = load_yaml(path)
    pls = doc.validate(Playlists, doc.data or {})
    for i, pl in enumerate(pls.playlists):
        for j, item in enumerate(pl.items):
            if item.dashboard not in dashboards:
                loc = ["playlists", i, "items", j, "dashboard"]
                raise ConfigError(f"unknown dashboard {item.dashboard!r} (known: {', '.join(sorted(dashboards))})",
                                  file=str(path), line=doc.line_of(loc), field=".".join(map(str, loc)))
        if pl.incident_dashboard is not None and pl.incident_dashboard not in dashboards:
            loc = ["playlists", i, "incident_dashboard"]
            raise ConfigError(f"unknown dashboard {pl.incident_dashboard!r} (known: {', '.join(sorted(dashboards))})",
                              file=str(path), line=doc.line_of(loc), field=".".join(map(str, loc)))
    return {pl.uid: pl for pl in pls.playlists}
