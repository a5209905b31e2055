"""``confirmations:`` in the config. Pure pydantic (imported by ``gateway.config``)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_WORDS = {"zh": ["收到", "已阅"], "en": ["ok", "1"]}


class ConfirmConfig(BaseModel):
    """``confirmations: {words: {zh: [收到, 已阅], en: [ok, "1"]}, remind_every_seconds: 3600}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    words: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_WORDS))
    """Replies to a notice that confirm it (whole reply, any case), per locale; a reply
    in any listed locale counts, whatever the resident's language."""
    remind_every_seconds: Annotated[float, Field(ge=0)] = 3600.0
    """``palm announcements remind`` posts at most once per chat in this time."""

    @field_validator("words")
    @classmethod
    def _words(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for locale, words in v.items():
            if any(not w.strip() for w in words):
                raise ValueError(f"an empty confirmation word under {locale!r}")
        return v

    def confirms(self, text: str) -> bool:
        said = _fold(text)
        return any(said == _fold(w) for words in self.words.values() for w in words)


_PUNCT = re.compile(r"[~\s。.!!~]+$")


def _fold(text: str) -> str:
    """``收到!`` and ``OK.`` are ``收到`` and ``ok``."""
    return _PUNCT.sub("", text.strip()).casefold()
