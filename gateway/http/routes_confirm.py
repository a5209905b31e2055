"""/api/v1/announcements/{id}/confirmations (and /remind): notices that must be read."""

from __future__ import annotations

from typing import Any

from gateway.accounts import Role, views
from gateway.confirm.remind import remind
from gateway.confirm.rollup import rollup
from gateway.http.route import ApiRequest, ApiRoute


async def confirmations(req: ApiRequest) -> dict[str, Any]:
    await views.check_announcement(req.rt, req.scope, req.path("id"))
    return (await rollup(req.rt, req.path("id"))).to_json()


async def remind_now(req: ApiRequest) -> dict[str, Any]:
    await views.check_announcement(req.rt, req.scope, req.path("id"))
    return {"chats": [r.to_json() for r in await remind(req.rt, req.path("id"))]}


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("GET", "/announcements/{id}/confirmations", Role.VIEWER,
                 "Who confirmed a notice: per chat (confirmed of known, Telegram member "
                 "count), per building (households), and who has not", confirmations),
        ApiRoute("POST", "/announcements/{id}/remind", Role.STAFF,
                 "Mention the residents who have not confirmed, once an hour per chat (409 "
                 "saying when, if sooner)", remind_now),
    ]  # fmt: skip
