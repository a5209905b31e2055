"""An announcement is rendered once per platform, not once per delivery."""

from __future__ import annotations

import pytest

from adapters.matrix import render as matrix_render
from adapters.telegram import render as telegram_render
from adapters.telegram.steps import plan
from gateway import markdown
from gateway.models import OutboundMessage, TargetId

TEXT = "Tank cleaning for building 5: **Tue 9:00-12:00**, water off.\n\n- bring a bucket"


def _fanout(prefix: str, n: int, text: str = TEXT) -> list[OutboundMessage]:
    return [
        OutboundMessage(TargetId(f"{prefix}{i}"), text, f"A-1:{i}", title="Water") for i in range(n)
    ]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def counting(text: str) -> tuple[markdown.Block, ...]:
        seen.append(text)
        return markdown.parse(text)

    telegram_render._render.cache_clear()
    matrix_render._bodies.cache_clear()
    monkeypatch.setattr(telegram_render, "parse", counting)
    monkeypatch.setattr(matrix_render, "parse", counting)
    return seen


def test_telegram_plans_300_deliveries_with_one_parse(parses: list[str]) -> None:
    plans = [plan(m) for m in _fanout("telegram:-100", 300)]
    assert parses == [TEXT]
    assert all(p == plans[0] for p in plans)
    plan(_fanout("telegram:-100", 1, "another text")[0])
    assert parses == [TEXT, "another text"]


def test_matrix_renders_300_deliveries_with_one_parse(parses: list[str]) -> None:
    contents = [matrix_render.text_content(m) for m in _fanout("matrix:!r", 300)]
    assert parses == [TEXT]
    assert contents[0]["formatted_body"].startswith("<p><b>Water</b></p>")
    assert all(c == contents[0] for c in contents)
    # A cached result is never shared mutably between deliveries.
    contents[0]["body"] = "changed"
    assert matrix_render.text_content(_fanout("matrix:!r", 1)[0])["body"] != "changed"
