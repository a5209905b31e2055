"""Contract scenario 1, end to end: a group /report on Telegram becomes an urgent
ticket, acknowledged in the group; staff claim, reply and resolve from the CLI, and the
resident sees each answer threaded to their report."""

from __future__ import annotations

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

GROUP = -1001234567890


async def test_the_9pm_hydrant(fake_tg: FakeTelegram, make_palm: PalmFactory) -> None:
    palm = make_palm(telegram=fake_tg)
    palm.start()
    await palm.ready()

    report = fake_tg.group_message(
        GROUP, "/report 5号楼消防栓坏了,水到处都是",
        sender=fake_tg.user(777, language="zh-hans"),
    )  # fmt: skip
    report_id = report["message"]["message_id"]

    def replies_to_report() -> list[str]:
        return [m.text or "" for m in fake_tg.sent_to(GROUP) if m.reply_to == report_id]

    await eventually(lambda: len(replies_to_report()) == 1, what="the acknowledgement")
    (ack,) = replies_to_report()
    assert ack.startswith("收到，工单 T-")
    ticket_id = ack.split()[1]

    tickets = (await palm.cli_json("tickets", "list"))["tickets"]
    top = tickets[0]
    assert top["id"] == ticket_id  # at the top of the queue
    assert top["priority"] == "urgent"
    assert top["category"] == "fire-safety"
    assert top["kind"] == "report"

    claimed = await palm.cli("tickets", "claim", ticket_id)
    assert claimed.returncode == 0, claimed.stderr
    answer = "Received, the water company is on the way. Please keep away from the water."
    replied = await palm.cli("tickets", "reply", ticket_id, answer)
    assert replied.returncode == 0, replied.stderr
    await eventually(lambda: answer in replies_to_report(), what="the staff reply")

    resolved = await palm.cli("tickets", "resolve", ticket_id, "--note", "valve replaced")
    assert resolved.returncode == 0, resolved.stderr
    await eventually(lambda: "已解决：valve replaced" in replies_to_report(), what="resolution")

    shown = await palm.cli_json("tickets", "show", ticket_id)
    assert shown["status"] == "resolved"
    assert fake_tg.violations == 0
