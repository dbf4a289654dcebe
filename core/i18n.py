"""Translations through gettext catalogs (.po read with Babel): Chinese first, English available.

The host's catalog lives in core/locale; each plugin may bring its own through
the ``register_translations`` hook. Message ids are English.
"""

from __future__ import annotations

import gettext
import io
import logging
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)
HOST_DOMAIN = "twinboard"
HOST_LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("zh_CN", "en")


def normalize_locale(value: str | None, default: str = "zh_CN") -> str:
    """'zh', 'zh-CN', 'zh_Hans' → 'zh_CN'; 'en', 'en-US' → 'en'; anything else → ``default``."""
    if not value:
        return default
    v = value.replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return default


def _load_po(path: Path) -> gettext.GNUTranslations:
    with path.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


class Translator:
    """Looks a message up in a plugin's catalog, then the host's; returns the id when missing."""

    def __init__(self) -> None:
        self._dirs: dict[str, Path] = {HOST_DOMAIN: HOST_LOCALE_DIR}
        self._cache: dict[tuple[str, str], gettext.NullTranslations] = {}

    def add_domain(self, domain: str, locale_dir: Path) -> None:
        """Register a plugin's catalog folder (``<dir>/<locale>/LC_MESSAGES/<domain>.po``)."""
        self._dirs[domain] = locale_dir
        self._cache = {k: v for k, v in self._cache.items() if k[0] != domain}

    def _catalog(self, domain: str, locale: str) -> gettext.NullTranslations:
        key = (domain, locale)
        if key not in self._cache:
            base = self._dirs.get(domain)
            po = base / locale / "LC_MESSAGES" / f"{domain}.po" if base else None
            if po is not None and po.is_file():
                try:
                    self._cache[key] = _load_po(po)
                except Exception as exc:  # noqa: BLE001 - a broken catalog falls back to ids
                    log.error("catalog %s unreadable: %s", po, exc)
                    self._cache[key] = gettext.NullTranslations()
            else:
                self._cache[key] = gettext.NullTranslations()
        return self._cache[key]

    def gettext(self, message: str, locale: str, domain: str | None = None) -> str:
        """``message`` in ``locale``."""
        locale = normalize_locale(locale)
        for d in ([domain] if domain and domain != HOST_DOMAIN else []) + [HOST_DOMAIN]:
            out = self._catalog(d, locale).gettext(message)
            if out != message:
                return out
        return message
