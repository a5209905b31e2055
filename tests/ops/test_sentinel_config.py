"""`redis.sentinel` and `redis.replica_acks` in the config: the errors an operator sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config_load import load_config
from gateway.errors import ConfigError
from tests.core.helpers import palm


@pytest.mark.parametrize(
    ("redis", "expected"),
    [
        ("{url: 'redis://x', sentinel: {service: s, nodes: ['h:1']}}",
         "redis: give either url or sentinel, not both"),
        ("{sentinel: {service: s, nodes: [nope]}}",
         "redis.sentinel.nodes: expected HOST:PORT, got 'nope'"),
        ("{sentinel: {service: s, nodes: []}}", "redis.sentinel.nodes: List should have at least"),
        ("{sentinel: {service: s, nodes: ['h:1'], password_env: PALM_OPS_UNSET_PW}}",
         "redis.sentinel.password_env: environment variable PALM_OPS_UNSET_PW is not set"),
        ("{replica_acks: -1}", "redis.replica_acks: Input should be greater than or equal to 0"),
    ],
)  # fmt: skip
def test_bad_sentinel_config(tmp_path: Path, redis: str, expected: str) -> None:
    path = tmp_path / "palm.yaml"
    path.write_text(f"redis: {redis}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}: {expected}" in info.value.message


def test_no_sentinel_answers_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "palm.yaml"
    path.write_text("redis: {sentinel: {service: palm, nodes: ['127.0.0.1:1']}}\n", "utf-8")
    done = palm("-c", str(path), "tickets", "list")
    assert done.returncode == 4
    assert done.stderr == (
        "palm: redis at sentinel palm via 127.0.0.1:1: no sentinel names a primary\n"
    )
