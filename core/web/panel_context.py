"""What a panel's render function receives: its options, locale, store queries and freshness."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from core.data.store import Store


class Selection(BaseModel):
    """What the user last picked on a map of the screen (sent by the browser; validated, never trusted).

    ``id`` is the picked row's entity id when it has one; ``lon``/``lat`` the clicked ground point;
    ``ts`` the browser's clock (epoch seconds); ``panel`` the placed panel clicked ("<uid>/<key>").
    """

    model_config = {"extra": "ignore", "frozen": True}

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    ts: float = Field(0.0, ge=0, allow_inf_nan=False)
    id: str | None = Field(None, max_length=200)
    layer: str | None = Field(None, max_length=200)
    panel: str | None = Field(None, max_length=300)

    @classmethod
    def parse(cls, raw: Any) -> Selection | None:
        """A valid selection from the browser's store, or None (nothing picked, or not well-formed)."""
        if not isinstance(raw, dict):
            return None
        try:
            return cls.model_validate(raw)
        except ValidationError:
            return None


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
    #: the user's last pick on a map of this screen (panels with ``follows_selection`` re-render on it)
    selection: Selection | None = None

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

    def name(self, zh: str, en: str | None = None) -> str:
        """A place, company, team or person's name in the screen's language: on English screens ``en``
        when the record has one, else the Chinese name's English form (``core.api.name_en``: known
        suffixes in English, the rest in pinyin)."""
        if self.lang != "en" or not zh:
            return zh
        from core.names import name_en
        return en or name_en(zh)

    def person(self, name: str, en: str | None = None) -> str:
        """A person's name (or several, joined by 、) in the screen's language: on English screens ``en`` when
        the record has one, else pinyin with the surname first (``core.api.person_en``: 罗佳琪 → Luo Jiaqi)."""
        if self.lang != "en" or not name:
            return name
        from core.names import person_en
        return en or person_en(name)

    def original(self, text: str, en: str | None = None) -> Any:
        """A person's free text (a hazard description, an inspector's finding, a field report) in the
        screen's language. On English screens: ``en`` when the record carries an English form; otherwise
        the text as its author wrote it, marked as the original (``<span class="tb-original"
        lang="zh-CN">``, shown with a small 原文 tag), since no translation runs offline. System text is
        never passed here: it is written in both languages (``text``)."""
        from core.names import has_chinese
        if self.lang != "en" or not text:
            return text
        if en:
            return en
        if not has_chinese(text):
            return text
        from dash import html
        return html.Span(text, lang="zh-CN", className="tb-original", title="original text (原文)")
