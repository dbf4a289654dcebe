"""Host settings: config/default.yaml, overridden by TWINBOARD_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.yamlfile import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.yaml"


class PluginConfig(BaseModel):
    """A plugin's entry in the settings file."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


#: The five government levels of the interconnection (部、省、市、区、街道), highest first.
FEDERATION_LEVELS = ("ministry", "province", "city", "district", "street")


class FederationPeer(BaseModel):
    """Another instance this one exchanges messages with (core.runtime.federation, docs/federation.md)."""

    model_config = ConfigDict(extra="forbid")
    #: the peer's name, as it knows this instance's messages by (sent in X-Twinboard-Peer)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: its base URL (the inbox is ``<url>/api/federation/inbox``); "" for a peer that only sends to us
    url: str = ""
    #: "up" (the peer is above this instance: incidents, warnings, alert summaries go there) or "down"
    direction: Literal["up", "down"]
    level: Literal["ministry", "province", "city", "district", "street"]
    #: the environment variable holding the shared secret (never the secret itself in the file)
    secret_env: str = Field(min_length=1, max_length=128)


class FederationSettings(BaseModel):
    """This instance's place among the five levels and its peers."""

    model_config = ConfigDict(extra="forbid")
    #: this instance's level and name (the origin of the messages it sends)
    level: Literal["ministry", "province", "city", "district", "street"] = "district"
    name: str = Field(default="district", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: what this instance is called on screens ("临海市古城街道")
    title: str = ""
    peers: list[FederationPeer] = Field(default_factory=list)
    #: largest request body accepted on the inbox (413 beyond)
    max_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: a request whose timestamp is further than this from the receiver's clock is refused (401)
    max_skew_s: float = Field(default=300.0, gt=0)
    #: the sender's back-off: first retry after about ``retry_base_s``, doubling up to ``retry_max_s``
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    #: messages per request
    batch: int = Field(default=100, ge=1, le=1000)
    #: how often a summary of the open alerts goes up (0: never)
    summary_interval_s: float = Field(default=300.0, ge=0)
    #: per-request timeout of the sender
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _peers_fit_levels(self) -> FederationSettings:
        """An "up" peer stands above this level, a "down" one below; names are unique."""
        mine = FEDERATION_LEVELS.index(self.level)
        seen: set[str] = set()
        for i, peer in enumerate(self.peers):
            theirs = FEDERATION_LEVELS.index(peer.level)
            if (peer.direction == "up") != (theirs < mine):
                raise ValueError(f"peers[{i}] ({peer.name}): a {peer.level} peer cannot be '{peer.direction}' "
                                 f"of a {self.level} instance")
            if peer.name in seen:
                raise ValueError(f"peers[{i}]: the name {peer.name!r} is used twice")
            seen.add(peer.name)
        return self


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
    #: the five-level interconnection with the instances above and below (docs/federation.md); None: off
    federation: FederationSettings | None = None

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
