"""Host settings: config/default.yaml, overridden by TWINBOARD_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.yamlfile import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.yaml"


class PluginConfig(BaseModel):
    """A plugin's entry in the settings file."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseModel):
    """Everything the host needs to start; paths are relative to ``root``."""

    model_config = ConfigDict(extra="forbid")
    root: Path = PROJECT_ROOT
    database_url: str | None = None
    var_dir: Path = Path("var")
    plugins_dir: Path = Path("plugins")
    dashboards_dir: Path = Path("config/dashboards")
    playlists_file: Path = Path("config/playlists.yaml")
    twin_models_dir: Path = Path("twin_models")
    #: The big screen's static files; they ship with the host, wherever the settings file lives.
    assets_dir: Path = PROJECT_ROOT / "assets"
    locale: str = "zh_CN"
    default_dashboard: str = "demo"
    #: Only these plugins load when set (env TWINBOARD_PLUGINS="a,b"); None loads all.
    plugin_allowlist: list[str] | None = None
    #: Log every hook call with its arguments and result (env TWINBOARD_TRACE_PLUGINS=1).
    trace_plugins: bool = False
    #: Load plugins from the ``twinboard.plugins`` entry-point group.
    entry_points: bool = True
    #: Run sources in this process (False for web-only workers).
    run_sources: bool = True
    #: Screens (/screen, /playlist) readable without signing in; admin pages always need a manager.
    public_screens: bool = False
    plugins: dict[str, PluginConfig] = Field(default_factory=dict)
    #: Signs sessions and CSRF tokens; every web process and machine of one deployment needs the same
    #: (env TWINBOARD_SECRET_KEY). Unset: one is made and kept in var/secret_key (one machine).
    secret_key: str | None = None
    #: Redis for bus events across processes and machines (env TWINBOARD_REDIS_URL), when the
    #: database is not PostgreSQL (PostgreSQL carries them itself with LISTEN/NOTIFY).
    redis_url: str | None = None

    def path(self, p: Path) -> Path:
        """``p`` resolved against ``root``."""
        return p if p.is_absolute() else (self.root / p)

    @property
    def url(self) -> str:
        """The database URL, defaulting to an SQLite file under ``var/``."""
        from core.data.store import default_database_url
        return self.database_url or default_database_url(self.path(self.var_dir))


def load_settings(config: Path | None = None, env: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Read the settings file (default config/default.yaml), apply env and keyword overrides."""
    env = dict(os.environ) if env is None else env
    path = Path(config or env.get("TWINBOARD_CONFIG") or DEFAULT_CONFIG).resolve()
    doc = load_yaml(path)
    data = dict(doc.data or {})
    data.setdefault("root", str(path.parent.parent if path.parent.name == "config" else path.parent))
    settings = doc.validate(Settings, data)
    updates: dict[str, Any] = {}
    if env.get("TWINBOARD_DATABASE_URL"):
        updates["database_url"] = env["TWINBOARD_DATABASE_URL"]
    if env.get("TWINBOARD_PLUGINS") is not None and "TWINBOARD_PLUGINS" in env:
        updates["plugin_allowlist"] = [p.strip() for p in env["TWINBOARD_PLUGINS"].split(",") if p.strip()]
    if env.get("TWINBOARD_TRACE_PLUGINS", "").lower() in ("1", "true", "yes"):
        updates["trace_plugins"] = True
    if env.get("TWINBOARD_LOCALE"):
        updates["locale"] = env["TWINBOARD_LOCALE"]
    if env.get("TWINBOARD_SECRET_KEY"):
        updates["secret_key"] = env["TWINBOARD_SECRET_KEY"]
    if env.get("TWINBOARD_REDIS_URL"):
        updates["redis_url"] = env["TWINBOARD_REDIS_URL"]
    updates.update(overrides)
    return settings.model_copy(update=updates) if updates else settings
