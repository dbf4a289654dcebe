"""What a panel's render function receives: its options, locale, store queries and freshness."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .store import Store


@dataclass
class PanelContext:
    """Passed to ``PanelSpec.render``; set ``data_time`` when the panel knows its data's age better."""

    plugin: str
    panel_id: str
    options: dict[str, Any]
    locale: str
    store: Store
    settings: Any
    translate: Any = field(repr=False, default=None)
    now: float = field(default_factory=time.time)
    data_time: float | None = None

    @property
    def lang(self) -> str:
        """"zh" or "en"."""
        return "en" if self.locale.startswith("en") else "zh"

    def gettext(self, message: str) -> str:
        """``message`` translated through the plugin's catalog, then the host's."""
        return self.translate(message, self.locale, self.plugin) if self.translate else message

    def text(self, zh: str, en: str) -> str:
        """Pick the Chinese or English literal for the current locale."""
        return en if self.lang == "en" else zh
