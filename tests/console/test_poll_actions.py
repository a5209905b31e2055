"""Creating and closing polls from the console, and re-tagging chats (no browser)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.polls import service
from gateway.polls.service import store_of
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.console.helpers import csrf_of, make_user, session_csrf, sign_in

Client = TestClient[Any, Any]


def _form(csrf: str, idem: str = "k1", **extra: str) -> dict[str, str]:
    form = {"csrf": csrf, "idem": idem, "question": "Which day for the tank?",
            "options": "Saturday\n\n Sunday \n", "to": "building:5"}  # fmt: skip
    return {**form, **extra}


async def _polls(rt: Runtime) -> list[Any]:
    return await store_of(rt).recent(50)


async def test_staff_creates_a_poll_once_for_a_double_submit(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get("/console/polls")).text()
    assert ">Create poll<" in page
    assert 'id="matches"' in page  # the composer's live audience match list
    csrf = csrf_of(page)
    form = _form(csrf, multiple="1")
    first = await client.post("/console/polls", data=form, allow_redirects=False)
    again = await client.post("/console/polls", data=form, allow_redirects=False)
    assert first.status == again.status == 303
    polls = await _polls(rt)
    assert len(polls) == 1
    poll = polls[0]
    assert first.headers["Location"] == again.headers["Location"] == f"/console/polls/{poll.id}"
    assert (poll.question, poll.options, poll.multiple) == (
        "Which day for the tank?", ("Saturday", "Sunday"), True)  # fmt: skip
    assert (poll.audience, poll.target_count, poll.created_by) == ("building:5", 2, "li")
    other = await client.post("/console/polls", data=_form(csrf, idem="k2"), allow_redirects=False)
    assert other.status == 303
    assert len(await _polls(rt)) == 2  # a new form (a new key) is a new poll


async def test_bad_poll_form_is_refused_and_may_be_sent_again(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    csrf = await session_csrf(client)
    one = await client.post("/console/polls", data=_form(csrf, options="only one"))
    assert one.status == 400
    assert "2 to 10 options" in await one.text()
    bad = await client.post("/console/polls", data=_form(csrf, to="building:5 &"))
    assert bad.status == 400
    past = await client.post("/console/polls", data=_form(csrf, closes="2001-01-01T10:00"))
    assert past.status == 400
    assert "in the past" in await past.text()
    assert await _polls(rt) == []
    ok = await client.post("/console/polls", data=_form(csrf), allow_redirects=False)
    assert ok.status == 303  # the same key: the failed tries made nothing and hold nothing
    assert len(await _polls(rt)) == 1


async def test_closes_at_is_kept(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    csrf = await session_csrf(client)
    r = await client.post("/console/polls", data=_form(csrf, closes="2099-01-01T10:00"))
    assert r.status == 200
    (poll,) = await _polls(rt)
    assert poll.closes_at is not None
    assert poll.closes_at > 4e9


async def test_staff_closes_a_poll_in_zh(rt: Runtime, client: Client) -> None:
    poll = await service.create(rt, question="Bins?", options=["a", "b"], to="building:5")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get(f"/console/polls/{poll.id}?lang=zh",
                                   headers={"Accept-Language": "zh"})).text()  # fmt: skip
    assert ">结束投票<" in page
    r = await client.post(f"/console/polls/{poll.id}/close", data={"csrf": csrf_of(page)})
    assert r.status == 200
    closed = await service.get(rt, poll.id)
    assert closed.state == "closed"
    assert "结束投票</button>" not in await r.text()


async def test_viewer_has_no_buttons_and_is_refused(rt: Runtime, client: Client) -> None:
    poll = await service.create(rt, question="Bins?", options=["a", "b"], to="building:5")
    await make_user(rt, "v", Role.VIEWER)
    await sign_in(client, "v")
    assert ">Create poll<" not in await (await client.get("/console/polls")).text()
    assert ">Close<" not in await (await client.get(f"/console/polls/{poll.id}")).text()
    csrf = await session_csrf(client)
    assert (await client.post("/console/polls", data=_form(csrf))).status == 403
    r = await client.post(f"/console/polls/{poll.id}/close", data={"csrf": csrf})
    assert r.status == 403
    assert await _polls(rt) == [await service.get(rt, poll.id)]
    assert (await service.get(rt, poll.id)).state == "open"


async def test_posts_without_csrf_are_refused(rt: Runtime, client: Client) -> None:
    poll = await service.create(rt, question="Bins?", options=["a", "b"], to="building:5")
    await make_user(rt, "boss", Role.ADMIN)
    await sign_in(client, "boss")
    assert (await client.post("/console/polls", data=_form(""))).status == 403
    assert (await client.post(f"/console/polls/{poll.id}/close", data={})).status == 403
    r = await client.post("/console/chats/telegram:-5/tags", data={"tags": "x"})
    assert r.status == 403
    assert len(await _polls(rt)) == 1
    assert (await service.get(rt, poll.id)).state == "open"
    target = await TargetDirectory(rt.redis, rt.keys).get("telegram:-5")
    assert target is not None
    assert "x" not in target.tags


async def test_scoped_staff_polls_only_inside_the_scope(rt: Runtime, client: Client) -> None:
    outside = await service.create(rt, question="Bins?", options=["a", "b"], to="building:9")
    await make_user(rt, "gm", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "gm")
    csrf = await session_csrf(client)
    r = await client.post("/console/polls", data=_form(csrf, to="building:5 | building:9"))
    assert r.status == 403
    assert "telegram:-9" in await r.text()
    r = await client.post(f"/console/polls/{outside.id}/close", data={"csrf": csrf})
    assert r.status == 404
    assert (await service.get(rt, outside.id)).state == "open"
    ok = await client.post("/console/polls", data=_form(csrf), allow_redirects=False)
    assert ok.status == 303
    assert len(await _polls(rt)) == 2


async def test_admin_edits_tags_with_the_one_validator(rt: Runtime, client: Client) -> None:
    await make_user(rt, "boss", Role.ADMIN)
    await sign_in(client, "boss")
    page = await (await client.get("/console/chats")).text()
    assert ">Save tags<" in page
    csrf = csrf_of(page)
    tags = "building:5 compound:guanmei  riverside"
    r = await client.post("/console/chats/telegram:-5/tags", data={"csrf": csrf, "tags": tags})
    assert r.status == 200
    directory = TargetDirectory(rt.redis, rt.keys)
    target = await directory.get("telegram:-5")
    assert target is not None
    assert sorted(target.tags) == ["building:5", "compound:guanmei", "riverside"]
    assert "riverside" in await r.text()
    bad = await client.post("/console/chats/telegram:-5/tags", data={"csrf": csrf, "tags": "a|b"})
    assert bad.status == 400
    assert "cannot contain" in await bad.text()
    after = await directory.get("telegram:-5")
    assert after is not None
    assert sorted(after.tags) == sorted(target.tags)
    missing = await client.post("/console/chats/telegram:-404/tags", data={"csrf": csrf})
    assert missing.status == 404


async def test_scoped_admin_retags_inside_the_scope_only(rt: Runtime, client: Client) -> None:
    await make_user(rt, "gm", Role.ADMIN, scope="compound:guanmei")
    await sign_in(client, "gm")
    csrf = await session_csrf(client)
    r = await client.post("/console/chats/telegram:-9/tags", data={"csrf": csrf, "tags": "x"})
    assert r.status == 403
    r = await client.post("/console/chats/telegram:-5/tags",
                          data={"csrf": csrf, "tags": "compound:guanmei building:6"})  # fmt: skip
    assert r.status == 200
    # Tagging the chat out of the scope would hand it to a compound gm does not manage.
    away = await client.post("/console/chats/telegram:-5/tags",
                             data={"csrf": csrf, "tags": "compound:other"})  # fmt: skip
    assert away.status == 403
    assert "outside your scope" in await away.text()
    directory = TargetDirectory(rt.redis, rt.keys)
    inside, other = await directory.get("telegram:-5"), await directory.get("telegram:-9")
    assert inside is not None
    assert other is not None
    assert sorted(inside.tags) == ["building:6", "compound:guanmei"]
    assert sorted(other.tags) == ["building:9", "compound:other"]


async def test_staff_cannot_edit_tags(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    assert ">Save tags<" not in await (await client.get("/console/chats")).text()
    r = await client.post("/console/chats/telegram:-5/tags",
                          data={"csrf": await session_csrf(client), "tags": "x"})  # fmt: skip
    assert r.status == 403
