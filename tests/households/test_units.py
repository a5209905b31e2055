"""Units, buildings and the household store (real Redis)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.errors import InputError
from gateway.households import HouseholdStore, building_of, chat, parse_resident, parse_unit
from gateway.households.config import HouseholdsConfig
from gateway.keys import Keys
from gateway.models import Command
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from tests.funnel.factory import direct


@pytest.mark.parametrize(
    ("text", "unit", "building"),
    [("5-302", "5-302", "5"), (" ５－３０２ ", "5-302", "5"), ("12a-1b", "12A-1B", "12A")],
)
def test_default_unit_format(text: str, unit: str, building: str) -> None:
    assert parse_unit(text) == unit
    assert building_of(text) == building


@pytest.mark.parametrize("text", ["", "302", "5 302", "5-302-1", "五-302", "-302"])
def test_not_a_unit(text: str) -> None:
    with pytest.raises(InputError, match="not a unit"):
        parse_unit(text)
    assert building_of(text) is None


def test_configured_pattern() -> None:
    pattern = r"^(?P<building>[A-Z])(?P<floor>\d{2})(?P<room>\d{2})$"
    assert parse_unit("b0302", pattern) == "B0302"
    assert building_of("B0302", pattern) == "B"
    with pytest.raises(InputError):
        parse_unit("5-302", pattern)


def test_pattern_needs_a_building_group() -> None:
    with pytest.raises(ValueError, match="building"):
        HouseholdsConfig(unit_pattern=r"^\d+$")
    with pytest.raises(ValueError, match="regular expression"):
        HouseholdsConfig(unit_pattern=r"^(?P<building>\d+")
    assert GatewayConfig().households.unit_pattern == HouseholdsConfig().unit_pattern


@pytest.mark.parametrize(
    ("text", "ok"),
    [("telegram:4242", True), ("matrix:@li:example.org", True), ("telegram:li", False),
     ("matrix:li", False), ("4242", False), ("signal:1", False)],
)  # fmt: skip
def test_resident_keys(text: str, ok: bool) -> None:
    if ok:
        assert parse_resident(text) == text
    else:
        with pytest.raises(InputError):
            parse_resident(text)


async def test_store_binds_lists_and_rebinds(redis: Redis, keys: Keys) -> None:
    store = HouseholdStore(redis, keys)
    a = await store.bind("telegram:1", "5-302", by="self", name="Li")
    assert (a.unit, a.building, a.by, a.name) == ("5-302", "5", "self", "Li")
    await store.bind("matrix:@wang:hs", "5-302")  # the same household on Matrix
    await store.bind("telegram:2", "5-303")
    await store.bind("telegram:3", "6-101")
    assert await store.unit_of("telegram:1") == "5-302"
    assert await store.unit_of("telegram:9") is None
    assert await store.units_of(["telegram:1", "telegram:9", "matrix:@wang:hs"]) == {
        "telegram:1": "5-302", "matrix:@wang:hs": "5-302",
    }  # fmt: skip
    five = await store.list("5")
    assert [(u.resident, u.unit) for u in five] == [
        ("matrix:@wang:hs", "5-302"), ("telegram:1", "5-302"), ("telegram:2", "5-303"),
    ]  # fmt: skip
    assert len(await store.list()) == 4
    moved = await store.bind("telegram:2", "6-102")
    assert moved.building == "6"
    assert [u.resident for u in await store.list("6")] == ["telegram:3", "telegram:2"]
    assert await store.unbind("telegram:3")
    assert not await store.unbind("telegram:3")
    with pytest.raises(InputError):
        await store.bind("telegram:1", "nowhere")
    assert await store.unit_of("telegram:1") == "5-302"  # a bad unit changes nothing


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("zh", "房号格式不对：「五-302」不是房号（应写成 楼号-房号，如 5-302）。例如：/房号 5-302"),
        ("en", "That is not a unit: '五-302' is not a unit (expected building-unit, like 5-302). "
               "For example: /unit 5-302"),
    ],
    ids=["zh", "en"],
)  # fmt: skip
async def test_a_wrong_unit_is_answered_wholly_in_the_residents_language(
    runtime: Runtime, language: str, answer: str
) -> None:
    msg = direct("五-302", user="7001", language=language, command=Command.UNIT, message_id="41")
    assert await chat.on_inbound(runtime, msg)
    store = OutboxStore(runtime)
    sent = await store.get("unit:telegram:7001:41")
    assert sent is not None
    assert (await store.message(sent)).text == answer
