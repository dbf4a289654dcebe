"""Errors the host raises; each names what went wrong and where (file, line, field, plugin)."""

from __future__ import annotations


class TwinboardError(Exception):
    """Base class for every error twinboard raises on purpose."""


class ConfigError(TwinboardError):
    """A settings, dashboard or playlist file is invalid.

    ``where`` is "file:line" (line when known) and ``field`` the dotted field path.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        parts = [p for p in (where, f"field '{field}'" if field else "", message) if p]
        super().__init__(": ".join(parts))


class ManifestError(ConfigError):
    """A plugin's plugin.toml is missing or invalid."""


class PluginError(TwinboardError):
    """A plugin failed: at import, in a hook, in a source or in a panel."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin '{plugin}': {message}")


class IncompatiblePluginError(PluginError):
    """A plugin's api_version range does not include the host's plugin API version."""


class StoreError(TwinboardError):
    """The twin store cannot be reached or a write was refused."""
