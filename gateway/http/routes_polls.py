"""/api/v1/polls: create, list, show (counts, turnout, comments) and close."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.accounts import Role
from gateway.accounts import views as account_views
from gateway.errors import Conflict, InputError, NotFound
from gateway.http.route import ApiRequest, ApiRoute, idempotency_key
from gateway.polls import model, service, views


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
    await account_views.check_announce(req.rt, req.scope, body.to)
    poll = await service.create(
        req.rt,
        question=body.question,
        options=body.options,
        to=body.to,
        multiple=body.multiple,
        closes_at=body.closes.timestamp() if body.closes else None,
        created_by=req.principal.name,
        idempotency_key=idempotency_key(req),
    )
    try:
        # A replayed key returns the poll it made: the same scope rule as showing it.
        await views.poll_in_scope(req.rt, req.scope, poll.id)
    except NotFound:
        raise Conflict("this Idempotency-Key was used for a poll outside your scope") from None
    return poll.to_json()


async def list_all(req: ApiRequest) -> list[dict[str, Any]]:
    return [p.to_json() for p in await views.list_polls(req.rt, req.scope)]


async def show(req: ApiRequest) -> dict[str, Any]:
    poll = await views.poll_in_scope(req.rt, req.scope, req.path("id"))
    by = req.query("by") or None
    if by not in (None, "chat", "building"):
        raise InputError("by must be chat or building")
    return await views.detail(req.rt, poll, by)


async def close(req: ApiRequest) -> dict[str, Any]:
    poll = await views.poll_in_scope(req.rt, req.scope, req.path("id"), acting=True)
    poll = await service.close(req.rt, poll.id)
    return poll.to_json()


def routes() -> list[ApiRoute]:
    one = "/polls/{id}"
    return [
        ApiRoute("POST", "/polls", Role.STAFF, "Send a poll to an audience", create,
                 body=PollCreate, status=202, headers=("Idempotency-Key",)),
        ApiRoute("GET", "/polls", Role.VIEWER, "Recent polls, newest first", list_all),
        ApiRoute("GET", one, Role.VIEWER, "Counts per option, platform, chat or building "
                 "(?by=chat|building), turnout and comments", show, query=("by",)),
        ApiRoute("POST", one + "/close", Role.STAFF,
                 "Stop the poll everywhere and post the result in every chat", close),
    ]  # fmt: skip
