"""/api/v1/polls: create, list, show (counts, turnout, comments) and close."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.accounts import Role, targets_in_scope, views
from gateway.accounts.scope import check_audience
from gateway.errors import InputError, NotFound
from gateway.http.route import ApiRequest, ApiRoute
from gateway.polls import Poll, model, parse_id, service
from gateway.polls.tally import summary
from gateway.targets import TargetDirectory


class PollCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=model.MAX_QUESTION)
    options: list[str] = Field(min_length=model.MIN_OPTIONS, max_length=model.MAX_OPTIONS)
    to: str = Field(min_length=1, max_length=2000, description="audience expression")
    multiple: bool = Field(default=False, description="residents may pick several options")
    closes: AwareDatetime | None = Field(default=None, description="closing time")


async def create(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, PollCreate)
    body = req.body
    await views.check_announce(req.rt, req.scope, body.to)
    poll = await service.create(
        req.rt,
        question=body.question,
        options=body.options,
        to=body.to,
        multiple=body.multiple,
        closes_at=body.closes.timestamp() if body.closes else None,
        created_by=req.principal.name,
    )
    return poll.to_json()


async def _visible(req: ApiRequest, poll: Poll, *, acting: bool = False) -> bool:
    """In scope: any of its chats (to read), all of them (to close; else 403)."""
    directory = TargetDirectory(req.rt.redis, req.rt.keys)
    allowed = await targets_in_scope(directory, req.scope)
    if allowed is None:
        return True
    targets = await service.store_of(req.rt).targets(poll.id)
    if allowed.isdisjoint(targets):
        return False
    if acting and req.scope is not None:
        await check_audience(directory, req.scope, targets)
    return True


async def _poll(req: ApiRequest, *, acting: bool = False) -> Poll:
    poll = await service.store_of(req.rt).get(parse_id(req.path("id")))
    if poll is None or not await _visible(req, poll, acting=acting):
        raise NotFound(f"no poll {req.path('id')}")
    return poll


async def list_all(req: ApiRequest) -> list[dict[str, Any]]:
    polls = await service.store_of(req.rt).recent()
    return [p.to_json() for p in polls if await _visible(req, p)]


async def show(req: ApiRequest) -> dict[str, Any]:
    poll = await _poll(req)
    by = req.query("by") or None
    if by not in (None, "chat", "building"):
        raise InputError("by must be chat or building")
    store = service.store_of(req.rt)
    data = await summary(req.rt, poll, await store.votes(poll.id), by)
    data["ignored"] = await store.stats(poll.id)
    data["comments"] = await store.comments(poll.id)
    return data


async def close(req: ApiRequest) -> dict[str, Any]:
    poll = await service.close(req.rt, (await _poll(req, acting=True)).id)
    return poll.to_json()


def routes() -> list[ApiRoute]:
    one = "/polls/{id}"
    return [
        ApiRoute("POST", "/polls", Role.STAFF, "Send a poll to an audience", create,
                 body=PollCreate, status=202),
        ApiRoute("GET", "/polls", Role.VIEWER, "Recent polls, newest first", list_all),
        ApiRoute("GET", one, Role.VIEWER, "Counts per option, platform, chat or building "
                 "(?by=chat|building), turnout and comments", show, query=("by",)),
        ApiRoute("POST", one + "/close", Role.STAFF,
                 "Stop the poll everywhere and post the result in every chat", close),
    ]  # fmt: skip
