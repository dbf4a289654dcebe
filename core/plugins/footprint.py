"""Where a process's memory goes, per plugin: cheap accounting kept while the host loads and runs plugins.

What is measured (and what it means):

- **RSS deltas** (psutil, the process's resident set) around each plugin's import (``import_mb``) and
  around its startup (``startup_mb``: its ``register_*`` hooks, twin files, ``on_startup`` and starting
  its sources). A delta is the growth while that step ran: the plugin's own objects plus the libraries
  it imported *first* (a library another plugin imported earlier counts there). Threads already running
  (other plugins' sources) may add to a step's delta, and freed memory that the allocator keeps makes
  a later delta small: deltas are an honest estimate, not an exact bill.
- **Modules**: the top-level packages that first appeared during each step (``import_modules``,
  ``startup_modules``), and those imported later (``later_modules``), attributed to the plugin whose code
  was on the stack when the import started (``ImportWatch``: a ``sys.meta_path`` finder that only looks
  and never loads). ``torch`` under forest_fire's ``later_modules`` says its smoke detector is loaded.
- The process totals: ``rss_mb`` now, ``baseline_mb`` before the first plugin was imported (the host
  itself: Python, Dash, Flask, SQLAlchemy...), ``after_start_mb``, and ``later_mb`` (growth since the
  start: sources' work, caches, lazily imported libraries).

No tracemalloc: it slows every allocation and sees only Python's heap, not native libraries (torch,
OpenCV), which is where most of the memory goes.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import psutil

_MB = 1024 * 1024
_process: psutil.Process | None = None


def rss_bytes() -> int:
    """This process's resident set size in bytes."""
    global _process
    if _process is None or _process.pid != os.getpid():  # a forked worker measures itself
        _process = psutil.Process()
    return int(_process.memory_info().rss)


def top_modules() -> set[str]:
    """The top-level modules imported so far (``torch``, not ``torch.nn``)."""
    return {name for name in list(sys.modules) if "." not in name}


def _shown(names: set[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("_") and n != "twinboard_plugins")


@dataclass
class Step:
    """RSS and modules at the start of a measured step; ``add_to`` books its growth."""

    rss: int = field(default_factory=rss_bytes)
    modules: set[str] = field(default_factory=top_modules)

    def add_to(self, memory: dict[str, Any], phase: str) -> None:
        """Add this step's growth to ``memory[phase + "_mb"]`` and ``memory[phase + "_modules"]``."""
        grown = (rss_bytes() - self.rss) / _MB
        memory[f"{phase}_mb"] = round(memory.get(f"{phase}_mb", 0.0) + grown, 1)
        new = set(memory.get(f"{phase}_modules", [])) | (top_modules() - self.modules)
        memory[f"{phase}_modules"] = _shown(new)


class ImportWatch:
    """A ``sys.meta_path`` finder that never finds anything: it notes which plugin's code first imported
    each top-level module (by the module names of the frames on the stack)."""

    def __init__(self) -> None:
        self.prefixes: dict[str, str] = {}       # plugin module name -> plugin name
        self.first_importer: dict[str, str] = {}  # top-level module -> plugin name
        self._lock = threading.Lock()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if "." in fullname or fullname in sys.modules or fullname in self.first_importer or not self.prefixes:
            return None
        frame = sys._getframe(1)
        for _ in range(200):
            if frame is None:
                break
            plugin = self._plugin_of(frame.f_globals.get("__name__", ""))
            if plugin is not None:
                with self._lock:
                    self.first_importer.setdefault(fullname, plugin)
                break
            frame = frame.f_back
        return None

    def _plugin_of(self, module: str) -> str | None:
        for prefix, plugin in self.prefixes.items():
            if module == prefix or module.startswith(prefix + "."):
                return plugin
        return None

    def modules_of(self, plugin: str, names: set[str]) -> list[str]:
        """Which of ``names`` this plugin's code imported first."""
        return _shown({n for n in names if self.first_importer.get(n) == plugin})


_watch: ImportWatch | None = None
_watch_lock = threading.Lock()


def import_watch() -> ImportWatch:
    """The process's one ImportWatch, installed at the front of ``sys.meta_path`` on first use."""
    global _watch
    with _watch_lock:
        if _watch is None:
            _watch = ImportWatch()
            sys.meta_path.insert(0, _watch)  # type: ignore[arg-type]
        return _watch


def megabytes(n: int) -> float:
    return round(n / _MB, 1)


def report(records: dict[str, Any], baseline: int, after_start: tuple[int, set[str]] | None) -> dict[str, Any]:
    """The ``memory`` section of /api/health: process totals and, per plugin (``records``: name ->
    PluginRecord), what its import and startup added and which modules it imported later."""
    now = rss_bytes()
    after, at_start = after_start or (now, top_modules())
    later = top_modules() - at_start
    watch = import_watch()
    plugins = {name: {"import_mb": r.memory.get("import_mb", 0.0), "import_modules": r.memory.get("import_modules", []),
                      "startup_mb": r.memory.get("startup_mb", 0.0),
                      "startup_modules": r.memory.get("startup_modules", []),
                      "later_modules": watch.modules_of(name, later)}
               for name, r in records.items()}
    attributed = {m for p in plugins.values() for m in p["later_modules"]}
    return {"rss_mb": megabytes(now), "baseline_mb": megabytes(baseline), "after_start_mb": megabytes(after),
            "later_mb": megabytes(now - after), "plugins": plugins,
            "later_modules_other": _shown(later - attributed)}
