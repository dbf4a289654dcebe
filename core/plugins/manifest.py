"""plugin.toml: the manifest every plugin ships, validated with pydantic."""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ManifestError

MANIFEST_FILE = "plugin.toml"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class LocalizedText(BaseModel):
    """A text in Chinese (required: the wall is Chinese first) and English."""

    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        """The text for ``locale`` ("zh_CN", "en", ...), Chinese when unknown."""
        return self.en if locale.lower().startswith("en") else self.zh


class Manifest(BaseModel):
    """What a plugin says about itself before any of its code runs."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    api_version: str = Field(description="PEP 440 range of the host plugin API, e.g. '>=1.0,<2'")
    title: LocalizedText
    description: str = ""
    requires: list[str] = Field(default_factory=list, description="Python distributions it needs")
    panels: list[str] = Field(default_factory=list, description="ids of the panels it offers")
    settings: dict[str, object] = Field(default_factory=dict,
                                        description="default values for its settings model")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("must be lower-case letters, digits and '_', starting with a letter")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        try:
            Version(v)
        except InvalidVersion as exc:
            raise ValueError(f"not a PEP 440 version: {v!r}") from exc
        return v

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, v: str) -> str:
        try:
            SpecifierSet(v)
        except InvalidSpecifier as exc:
            raise ValueError(f"not a version range: {v!r} (write e.g. '>=1.0,<2')") from exc
        return v

    def accepts_api(self, host_api: str) -> bool:
        """True when the host's plugin API version lies in this plugin's range."""
        return SpecifierSet(self.api_version).contains(Version(host_api), prereleases=True)


def _line_of(text: str, key: str) -> int | None:
    """Best-effort line number of a top-level ``key`` (or table) in TOML text."""
    pat = re.compile(rf"^\s*(\[{re.escape(key)}\]|{re.escape(key)}\s*=)")
    for n, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return n
    return None


def _line_in_table(text: str, table: str | None, key: str) -> int | None:
    """Line of ``key = ...`` at the top level (``table`` None) or inside ``[table]``."""
    key_re = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    header_re = re.compile(r"^\s*\[")
    current: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if header_re.match(line):
            current = line.strip().strip("[]").strip()
            if table is None and current == key:
                return n  # an unknown [table] at the top level
            continue
        if current == table and key_re.match(line):
            return n
    return None


def _reject_unknown_keys(data: dict[str, object], text: str, path: Path) -> None:
    """Name the first unknown key (top level or in [title]), its line and the close match, if any."""
    levels: list[tuple[str | None, dict[str, object], set[str]]] = [(None, data, set(Manifest.model_fields))]
    if isinstance(data.get("title"), dict):
        levels.append(("title", data["title"], set(LocalizedText.model_fields)))  # type: ignore[arg-type]
    for table, values, known in levels:
        for key in values:
            if key in known:
                continue
            close = difflib.get_close_matches(key.replace("-", "_").lower(), sorted(known), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(sorted(known))})"
            dotted = f"{table}.{key}" if table else key
            raise ManifestError(f"unknown key '{dotted}'{hint}", file=str(path),
                                line=_line_in_table(text, table, key), field=dotted)


def load_manifest(path: Path, *, expected_name: str | None = None) -> Manifest:
    """Read and validate ``path``; raise ManifestError naming the file, line and field."""
    if not path.is_file():
        raise ManifestError(f"missing {MANIFEST_FILE}", file=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        if line is None and "end of document" in str(exc):
            line = len(text.splitlines()) or 1
        raise ManifestError(f"not valid TOML: {exc}", file=str(path), line=line) from exc
    _reject_unknown_keys(data, text, path)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        raise ManifestError(err["msg"], file=str(path), line=_line_of(text, top),
                            field=field) from exc
    if expected_name is not None and manifest.name != expected_name:
        raise ManifestError(f"name {manifest.name!r} must equal the plugin folder {expected_name!r}",
                            file=str(path), line=_line_of(text, "name"), field="name")
    return manifest
