"""An edit keeps the ✅ button; after a recall a press counts no more; the API
roll-up; a notice without --confirm has no button and no roll-up."""

from __future__ import annotations

import aiohttp

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.tg_inline import buttons_of

GROUP = -100666
BUTTON = [("✅ 已阅 Got it", "palm:confirm")]


async def test_edit_keeps_the_button_and_recall_stops_counting(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    targets = [{"id": f"telegram:{GROUP}", "tags": ["building:3"]}]
    palm = make_palm(telegram=fake_tg, targets=targets, locale="en")
    palm.start()
    await palm.ready()
    made = await palm.cli("tokens", "create", "office", "--role", "staff")
    assert made.returncode == 0, made.stderr
    auth = {"Authorization": f"Bearer {made.stdout.strip().split()[-1]}"}
    api = f"{palm.base}/api/v1/announcements"
    async with aiohttp.ClientSession(headers=auth) as s:
        body = {"text": "Tank cleaning Tue", "to": "building:3", "confirm": True}
        async with s.post(api, json=body) as r:
            assert r.status == 202, await r.text()
            ann = (await r.json())["id"]
        async with s.post(api, json={"text": "Just news", "to": "building:3"}) as r:
            plain = (await r.json())["id"]
        await eventually(lambda: len(fake_tg.sent_to(GROUP)) == 2, limit=30, what="both")
        notice, news = fake_tg.sent_to(GROUP)
        assert buttons_of(notice.reply_markup) == BUTTON
        assert buttons_of(news.reply_markup) == []
        async with s.get(f"{api}/{plain}/confirmations") as r:
            assert r.status == 400
            assert "does not ask residents to confirm" in (await r.json())["error"]["message"]

        edited = await palm.cli("announcements", "edit", ann, "Tank cleaning **Wed**")
        assert edited.returncode == 0, edited.stderr
        assert notice.edits == 1
        assert notice.text == "Tank cleaning Wed"
        assert buttons_of(notice.reply_markup) == BUTTON  # the edit kept the button

        first = fake_tg.press(GROUP, notice.message_id, "palm:confirm", fake_tg.user(4001))
        await eventually(lambda: first in fake_tg.callbacks.answers, limit=30, what="answer")
        assert fake_tg.callbacks.answers[first] == "Confirmed, thank you ✅"

        # A reply of "ok" to the notice confirms (no ticket); 收到 to ordinary news is
        # an ordinary reply and becomes a ticket as before.
        fake_tg.group_message(GROUP, "ok", sender=fake_tg.user(4003), reply_to=notice.message_id)
        fake_tg.group_message(GROUP, "收到", sender=fake_tg.user(4004), reply_to=news.message_id)

        async def reply_ticket() -> list[dict[str, object]]:
            return list((await palm.cli_json("tickets", "list"))["tickets"])

        await eventually(reply_ticket, limit=30, what="the reply ticket")
        (ticket,) = await reply_ticket()
        assert (ticket["kind"], ticket["target"]) == ("reply", f"telegram:{GROUP}")
        async with s.get(f"{api}/{ann}/confirmations") as r:
            assert (await r.json())["confirmed"] == 2

        recalled = await palm.cli("announcements", "recall", ann)
        assert recalled.returncode == 0, recalled.stderr
        late = fake_tg.press(GROUP, notice.message_id, "palm:confirm", fake_tg.user(4002))
        await eventually(lambda: late in fake_tg.callbacks.answers, limit=30, what="answer")
        assert fake_tg.callbacks.answers[late] == "This notice was withdrawn"
        async with s.get(f"{api}/{ann}/confirmations") as r:
            assert r.status == 200
            report = await r.json()
        assert (report["status"], report["confirmed"]) == ("recalled", 2)
        async with s.post(f"{api}/{ann}/remind") as r:
            assert r.status == 409
        async with s.get(f"{api}/A-999/confirmations") as r:
            assert r.status == 404
        async with s.get(f"{palm.base}/metrics") as r:
            metrics = await r.text()
    assert 'palm_confirmations_total{platform="telegram"} 2.0' in metrics
