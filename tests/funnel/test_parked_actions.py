"""Retrying a parked entry or marking it handled (``gateway.funnel.parked_actions``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from gateway.errors import InputError, NotFound
from gateway.funnel import deadletters
from gateway.funnel.parked_actions import act, pick
from gateway.funnel.tickets import TicketStore
from gateway.inbound import inbound_stream
from gateway.models import Command, TicketId
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from tests.conftest import write_config
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP, message
from tests.funnel.test_deadletters import _palm


async def _parked_while_broken(
    funnel: Pipeline, monkeypatch: pytest.MonkeyPatch, *msgs: Any
) -> None:
    async def apply(self: TicketStore, *args: Any, **kw: Any) -> Any:
        raise KeyError("x")

    with monkeypatch.context() as m:
        m.setattr(TicketStore, "apply", apply)
        await funnel.feed(*msgs)


async def _one_parked(
    funnel: Pipeline, monkeypatch: pytest.MonkeyPatch, text: str, message_id: str
) -> deadletters.Parked:
    report = message(text, command=Command.REPORT, message_id=message_id)
    await _parked_while_broken(funnel, monkeypatch, report)
    (p,) = await deadletters.parked(funnel.rt.redis, funnel.rt.keys)
    return p


async def test_a_retried_entry_becomes_the_ticket_it_should_have_been(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = await _one_parked(funnel, monkeypatch, "5号楼漏水", "41")
    assert p.answered
    # Fixed: the entry goes back onto the stream, the funnel files it.
    assert await act(runtime, p, "retry", by="li") == {"entry": p.entry, "done": "retried"}
    assert await runtime.redis.xlen(inbound_stream(runtime.keys)) == 1
    await funnel.drain()
    ticket = await TicketStore(runtime.redis, runtime.keys).detail(TicketId("T-1"))
    assert ticket["text"] == "5号楼漏水"
    assert await deadletters.parked(runtime.redis, runtime.keys) == []
    outbox = OutboxStore(runtime)
    assert await outbox.get("T-1:ack") is not None
    assert await outbox.get(f"parked:{GROUP}:41") is not None  # said once, before the retry


async def test_an_entry_retried_while_still_broken_is_parked_again_and_answered_once(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _one_parked(funnel, monkeypatch, "lift stuck", "42")
    await act(runtime, first, "retry", by="li")
    await _parked_while_broken(funnel, monkeypatch)  # drains the retried entry
    (again,) = await deadletters.parked(runtime.redis, runtime.keys)
    assert again.entry != first.entry
    assert again.text == "lift stuck"
    assert again.answered  # the same answer, whose delivery id the outbox already has
    assert await OutboxStore(runtime).get(f"parked:{GROUP}:42") is not None


async def test_two_people_acting_at_once_act_once(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _parked_while_broken(funnel, monkeypatch, message("x", command=Command.REPORT))
    (p,) = await deadletters.parked(runtime.redis, runtime.keys)
    got = await asyncio.gather(
        act(runtime, p, "retry", by="li"), act(runtime, p, "handled", by="wang"),
        return_exceptions=True,
    )  # fmt: skip
    assert sorted(type(g).__name__ for g in got) == ["NotFound", "dict"]
    assert await deadletters.parked(runtime.redis, runtime.keys) == []
    stream = await runtime.redis.xlen(inbound_stream(runtime.keys))
    assert stream == (1 if isinstance(got[0], dict) else 0)  # retried only if retry won


async def test_an_unreadable_entry_can_only_be_marked_handled(
    funnel: Pipeline, runtime: Runtime
) -> None:
    await runtime.redis.rpush(runtime.keys("inbound", "deadletter"), "not a record")
    (p,) = await deadletters.parked(runtime.redis, runtime.keys)
    with pytest.raises(InputError, match="cannot be handled again"):
        await act(runtime, p, "retry", by="ops")
    assert (await act(runtime, pick([p], "?"), "handled", by="ops"))["done"] == "handled"
    with pytest.raises(NotFound):
        pick(await deadletters.parked(runtime.redis, runtime.keys), "?")


async def test_palm_queue_dead_letters_retry_and_handled(
    funnel: Pipeline, runtime: Runtime, config: GatewayConfig, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    reports = [message(x, command=Command.REPORT) for x in "ab"]
    await _parked_while_broken(funnel, monkeypatch, *reports)
    a, b = reversed(await deadletters.parked(runtime.redis, runtime.keys))
    cfg = write_config(tmp_path / "palm.yaml", config)
    out = _palm(cfg, "queue", "dead-letters", "--handled", a.entry, "--handled", "0-0")
    assert out.returncode == 1  # one of the two failed, and said so
    assert f"{a.entry}: handled" in out.stdout
    assert "0-0: no parked message 0-0" in out.stderr
    out = _palm(cfg, "queue", "dead-letters", "--retry-all")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{b.entry}: retried"
    assert await deadletters.parked(runtime.redis, runtime.keys) == []
    assert await runtime.redis.xlen(inbound_stream(runtime.keys)) == 1
