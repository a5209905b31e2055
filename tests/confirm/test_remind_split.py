"""Above 50 names a reminder is split, each message a Telegram text mention per
resident, within Telegram's limits (fake Bot API through `palm run`)."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.confirm.store import ConfirmStore
from gateway.keys import Keys
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

GROUP = -100888


async def test_reminder_split_with_text_mentions(
    fake_tg: FakeTelegram, make_palm: PalmFactory, redis: Redis, keys: Keys
) -> None:
    targets = [{"id": f"telegram:{GROUP}", "tags": ["building:7"], "title": "Building 7"}]
    palm = make_palm(telegram=fake_tg, targets=targets)
    palm.start()
    await palm.ready()
    done = await palm.cli("announce", "Lift inspection Friday", "--to", "building:7",
                          "--confirm", "--no-wait")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ann = done.stdout.strip()
    await eventually(lambda: bool(fake_tg.sent_to(GROUP)), limit=30, what="the notice")
    (notice,) = fake_tg.sent_to(GROUP)
    # 60 residents seen in the group (what the funnel records of everyone who writes
    # there); the first 5 press the button.
    store = ConfirmStore(redis, keys)
    for uid in range(9000, 9060):
        await store.seen(f"telegram:{GROUP}", f"telegram:{uid}", f"住户{uid}" * 20)
    for uid in range(9000, 9005):
        fake_tg.press(GROUP, notice.message_id, "palm:confirm", fake_tg.user(uid))

    async def five() -> bool:
        return (await palm.cli_json("announcements", "confirmations", ann))["confirmed"] == 5

    await eventually(five, limit=30, what="five confirmations")
    done = await palm.cli("announcements", "remind", ann)
    assert done.returncode == 0, done.stderr
    assert "reminded 55 residents in 2 messages" in done.stdout

    def reminders() -> list[object]:
        return [m for m in fake_tg.sent_to(GROUP) if m.entities]

    await eventually(lambda: len(reminders()) == 2, limit=40, what="two reminder messages")
    sent = [m for m in fake_tg.sent_to(GROUP) if m.entities]
    assert [len(m.entities) for m in sent] == [50, 5]
    assert all(m.reply_to == notice.message_id for m in sent)
    assert "(1/2)" in (sent[0].text or "")
    assert all(len(m.text or "") <= 4096 for m in sent)
    mentioned = [e["user"]["id"] for m in sent for e in m.entities]
    assert sorted(mentioned) == list(range(9005, 9060))
    assert {e["type"] for m in sent for e in m.entities} == {"text_mention"}
    # Each entity covers the resident's (cut) name in the visible text, in UTF-16 units.
    first = sent[0].entities[0]
    raw = (sent[0].text or "").encode("utf-16-le")
    start, length = first["offset"] * 2, first["length"] * 2
    assert raw[start : start + length].decode("utf-16-le") == ("住户9005" * 20)[:64]
