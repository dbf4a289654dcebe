"""Discovers, validates and loads plugins (folders and entry points) into one pluggy manager.

Every call into a plugin goes through ``call`` so a plugin that raises is marked
failed with its traceback while the others keep running.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pluggy

from core import PLUGIN_API_VERSION
from core.plugins import footprint, hookspecs
from core.errors import ConfigError, ManifestError
from core.plugins.manifest import MANIFEST_FILE, Manifest, load_manifest

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "twinboard.plugins"
_FOLDER_PACKAGE = "twinboard_plugins"


class PluginStatus(str, Enum):
    """Where a plugin stands in its lifecycle."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    FAILED = "failed"
    INCOMPATIBLE = "incompatible"


@dataclass
class PluginRecord:
    """Everything the host knows about one plugin."""

    name: str
    origin: str  # "folder", "entry-point" or "inline"
    location: str
    manifest: Manifest | None = None
    module: Any = None
    status: PluginStatus = PluginStatus.ENABLED
    error: str | None = None
    traceback: str | None = None
    settings_model: Any = None
    settings: Any = None
    failures: list[str] = field(default_factory=list)
    #: memory accounting (core.plugins.footprint): import_mb/_modules here, startup_mb/_modules by the host
    memory: dict[str, Any] = field(default_factory=dict)
    #: what the host ignored of this plugin's contributions, and why (an entity kind another plugin holds)
    warnings: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.module is not None

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"name": self.name, "origin": self.origin, "location": self.location,
                "version": m.version if m else None, "api_version": m.api_version if m else None,
                "title": m.title.model_dump() if m else None,
                "description": m.description if m else "",
                "state": self.status.value, "error": self.error, "traceback": self.traceback}


class PluginManager:
    """The host's one pluggy manager plus the record of every discovered plugin."""

    def __init__(self, *, allowlist: Iterable[str] | None = None, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.allowlist = set(allowlist) if allowlist is not None else None
        self._callers: dict[tuple[str, str], Any] = {}
        if trace:
            self.pm.trace.root.setwriter(lambda msg: log.info("hook trace: %s", msg.rstrip()))
            self.pm.enable_tracing()

    # -- discovery ---------------------------------------------------------------------------
    def discover_folder(self, plugins_dir: Path) -> None:
        """Load every ``plugins/<name>/`` that has a plugin.toml (sorted by name)."""
        if not plugins_dir.is_dir():
            return
        for folder in sorted(p for p in plugins_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            if not (folder / MANIFEST_FILE).exists() and not (folder / "__init__.py").exists():
                continue
            if not self._allowed(folder.name):
                continue
            record = PluginRecord(folder.name, "folder", str(folder))
            try:
                record.manifest = load_manifest(folder / MANIFEST_FILE, expected_name=folder.name)
            except ManifestError as exc:
                self._add_failed(record, str(exc), None)
                continue
            if self._check_api(record):
                self._import_and_register(record, lambda f=folder: _import_folder(f))

    def discover_entry_points(self) -> None:
        """Load installed distributions' plugins from the ``twinboard.plugins`` entry-point group."""
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if not self._allowed(ep.name) or ep.name in self.records:
                continue
            dist = ep.dist.name if ep.dist else "?"
            record = PluginRecord(ep.name, "entry-point", f"{dist}:{ep.value}")
            step = footprint.Step()
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001
                self._add_failed(record, f"import failed: {exc.__class__.__name__}: {exc}", traceback.format_exc())
                continue
            finally:
                step.add_to(record.memory, "import")
            try:
                record.manifest = _entry_point_manifest(module, ep.name)
            except ManifestError as exc:
                self._add_failed(record, str(exc), None)
                continue
            if self._check_api(record):
                self._import_and_register(record, lambda m=module: m)

    def register_inline(self, module: Any, manifest: Manifest) -> PluginRecord:
        """Register an already-imported plugin object (tests and the vendors' harness)."""
        record = PluginRecord(manifest.name, "inline", repr(module), manifest=manifest)
        if self._check_api(record):
            self._import_and_register(record, lambda: module)
        return record

    def _allowed(self, name: str) -> bool:
        if self.allowlist is not None and name not in self.allowlist:
            log.info("plugin %s skipped: not in TWINBOARD_PLUGINS", name)
            return False
        return True

    def _check_api(self, record: PluginRecord) -> bool:
        assert record.manifest is not None
        if record.manifest.accepts_api(PLUGIN_API_VERSION):
            return True
        record.status = PluginStatus.INCOMPATIBLE
        record.error = (f"plugin '{record.name}' requires plugin API {record.manifest.api_version}, "
                        f"this host provides {PLUGIN_API_VERSION}")
        self.records[record.name] = record
        log.error(record.error)
        return False

    def _import_and_register(self, record: PluginRecord, load: Any) -> None:
        if record.name in self.records:
            self._add_failed(PluginRecord(record.name + "#dup", record.origin, record.location),
                             f"a plugin named '{record.name}' is already loaded from "
                             f"{self.records[record.name].location}", None)
            return
        step = footprint.Step()
        try:
            module = load()
        except Exception as exc:  # noqa: BLE001 - import errors are the plugin's, not the host's
            self._add_failed(record, f"import failed: {exc.__class__.__name__}: {exc}", traceback.format_exc())
            return
        finally:
            step.add_to(record.memory, "import")
        try:
            self.pm.register(module, name=record.name)
            self._check_hooks(record.name, module)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._add_failed(record, f"invalid hook implementation: {exc}", None)
            return
        record.module = module
        self.records[record.name] = record
        self._callers.clear()

    def _check_hooks(self, name: str, module: Any) -> None:
        """Reject hookimpls without a spec (a typo'd hook name), naming the plugin."""
        for hook_name in dir(module):
            if self.pm.parse_hookimpl_opts(module, hook_name) is None:
                continue
            caller = getattr(self.pm.hook, hook_name, None)
            if caller is None or not caller.has_spec():
                raise pluggy.PluginValidationError(
                    module, f"plugin '{name}': hook '{hook_name}' does not exist in twinboard's hookspecs "
                            f"(see docs/plugins.md)")
        self.pm.check_pending()

    def _add_failed(self, record: PluginRecord, error: str, tb: str | None) -> None:
        record.status, record.error, record.traceback = PluginStatus.FAILED, error, tb
        self.records[record.name] = record
        log.error("plugin %s failed: %s", record.name, error)

    # -- calling -------------------------------------------------------------------------------
    def call(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on plugin ``name`` only; its result, or None when it has none or failed.

        An exception marks the plugin failed (traceback kept) and returns None.
        """
        record = self.records.get(name)
        if record is None or record.module is None or record.status == PluginStatus.FAILED:
            return None
        caller = self._callers.get((name, hook))
        if caller is None:
            others = [r.module for n, r in self.records.items() if n != name and r.module is not None
                      and self.pm.is_registered(r.module)]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            self._callers[(name, hook)] = caller
        try:
            results = caller(**kwargs)
        except Exception as exc:  # noqa: BLE001
            self.fail(name, f"hook {hook} raised {exc.__class__.__name__}: {exc}", traceback.format_exc())
            return None
        if isinstance(results, list):
            return results[0] if results else None
        return results

    def fail(self, name: str, error: str, tb: str | None) -> None:
        """Mark a loaded plugin failed (keeps the first traceback); its panels show an error card."""
        record = self.records[name]
        record.failures.append(error)
        if record.status != PluginStatus.FAILED:
            record.status, record.error, record.traceback = PluginStatus.FAILED, error, tb
            log.error("plugin %s failed: %s", name, error)

    def names(self, *statuses: PluginStatus) -> list[str]:
        """Plugin names, optionally only those in the given states."""
        return [n for n, r in self.records.items() if not statuses or r.status in statuses]


def build_plugin_manager(settings: Any, extra: Iterable[tuple[Any, Manifest]] = ()) -> PluginManager:
    """The factory: folder plugins, then entry points, then ``extra`` inline plugins."""
    manager = PluginManager(allowlist=settings.plugin_allowlist, trace=settings.trace_plugins)
    manager.discover_folder(settings.path(settings.plugins_dir))
    if settings.entry_points:
        manager.discover_entry_points()
    for module, manifest in extra:
        manager.register_inline(module, manifest)
    return manager


def _import_folder(folder: Path) -> types.ModuleType:
    """Import ``plugins/<name>/__init__.py`` as ``twinboard_plugins.<name>`` (relative imports work)."""
    if _FOLDER_PACKAGE not in sys.modules:
        pkg = types.ModuleType(_FOLDER_PACKAGE)
        pkg.__path__ = []  # namespace-like parent
        sys.modules[_FOLDER_PACKAGE] = pkg
    mod_name = f"{_FOLDER_PACKAGE}.{folder.name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    init = folder / "__init__.py"
    if not init.exists():
        raise ImportError(f"{init} is missing (a plugin folder is a Python package)")
    spec = importlib.util.spec_from_file_location(mod_name, init, submodule_search_locations=[str(folder)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def import_plugin_submodule(folder: Path, sub: str) -> types.ModuleType:
    """``<folder>/<sub>.py`` of a folder plugin, imported as the host imports it (tests, benchmarks)."""
    _import_folder(folder)
    return importlib.import_module(f"{_FOLDER_PACKAGE}.{folder.name}.{sub}")


def _entry_point_manifest(module: Any, ep_name: str) -> Manifest:
    """An installed plugin ships plugin.toml inside its package, beside its ``__init__``."""
    origin = getattr(module, "__file__", None)
    if origin is None:
        raise ManifestError("entry point must name a module (with plugin.toml beside it)", file=ep_name)
    return load_manifest(Path(origin).parent / MANIFEST_FILE, expected_name=ep_name)


__all__ = ["ENTRY_POINT_GROUP", "PluginManager", "PluginRecord", "PluginStatus",
           "build_plugin_manager", "ConfigError"]
