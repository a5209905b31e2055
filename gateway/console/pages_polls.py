"""The polls page: the scoped list of polls, and a page per poll with its results.

The results are ``gateway.polls.views.detail`` (what ``palm poll show`` prints): counts
per option, per platform, by chat and by building, turnout. The poll page is live: a
counted vote writes a console event (``kind=vote``, scoped by chat), and the page
fetches its results part again.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.accounts import targets_in_scope
from gateway.console import compose, poll_actions
from gateway.console.context import page_vars, runtime, signed_in
from gateway.console.events import last_id
from gateway.polls import views
from gateway.polls.service import store_of
from gateway.targets import TargetDirectory


async def polls_page(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    rt = runtime(request)
    store = store_of(rt)
    rows = [
        {"poll": poll, "voters": await store.voter_count(poll.id)}
        for poll in await views.list_polls(rt, user.scope)
    ]
    return aiohttp_jinja2.render_template(
        "polls.html",
        request,
        page_vars(request, polls=rows, idem=poll_actions.new_key(), zone=compose.local_zone()),
    )


async def _results(request: web.Request) -> dict[str, Any]:
    _, user = signed_in(request)
    rt = runtime(request)
    poll = await views.poll_in_scope(rt, user.scope, request.match_info["id"])
    data = await views.detail(rt, poll, "chat")
    data["by_building"] = (await views.detail(rt, poll, "building"))["by_building"]
    directory = TargetDirectory(rt.redis, rt.keys)
    if user.scope is not None:
        # A poll may reach chats of other compounds too: their rows are not shown here.
        allowed = await targets_in_scope(directory, user.scope) or set()
        data["by_chat"] = {t: g for t, g in data["by_chat"].items() if t in allowed}
    data["titles"] = {t.id: t.title for t in await directory.many(list(data["by_chat"]))}
    return data


async def poll_page(request: web.Request) -> web.StreamResponse:
    rt = runtime(request)
    stream_from = await last_id(rt.redis, rt.keys)  # before the read: no vote falls between
    data = await _results(request)
    return aiohttp_jinja2.render_template(
        "poll.html", request, page_vars(request, r=data, stream_from=stream_from)
    )


async def poll_fragment(request: web.Request) -> web.StreamResponse:
    data = await _results(request)
    return aiohttp_jinja2.render_template("poll_live.html", request, page_vars(request, r=data))
