"""The admission and flood keys: defaults from the contract, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config_load import load_config
from gateway.errors import ConfigError


def test_defaults_are_the_contracts(tmp_path: Path) -> None:
    path = tmp_path / "palm.yaml"
    path.write_text("locale: en\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.admission == "approve"
    f = cfg.flood
    assert (f.tickets.limit, f.tickets.window_seconds) == (5, 3600)
    assert (f.messages.limit, f.messages.window_seconds) == (30, 600)
    assert (f.acks.limit, f.acks.window_seconds) == (1, 60)
    assert (f.help.limit, f.help.window_seconds) == (1, 60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("admission: maybe\n", "admission: Input should be 'approve' or 'open'"),
        ("flood: {tickets: {limit: 0, window_seconds: 60}}\n", "flood.tickets.limit:"),
        ("flood: {acks: {limit: 1}}\n", "flood.acks.window_seconds: Field required"),
        ("flood: {help: {limit: 1, window_seconds: -1}}\n", "flood.help.window_seconds:"),
        ("flood: {replies: {limit: 1, window_seconds: 1}}\n", "flood.replies: unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "palm.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}: {expected}" in str(err.value)
