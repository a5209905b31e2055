"""Every console route, in one list (paths relative to /console)."""

from __future__ import annotations

from aiohttp import web

from gateway.console import (
    pages_announce,
    pages_auth,
    pages_misc,
    pages_polls,
    pages_queue,
    poll_actions,
    sse,
)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/signin", pages_auth.signin_page)
    r.add_post("/signin", pages_auth.signin)
    r.add_post("/signout", pages_auth.signout)
    r.add_get("/lang", pages_auth.switch_language)
    r.add_get("/", pages_queue.queue_page)
    r.add_get("/events", sse.events)
    r.add_get("/tickets/{id}", pages_queue.ticket_page)
    r.add_get("/tickets/{id}/live", pages_queue.ticket_fragment)
    r.add_get("/tickets/{id}/files/{m}/{a}", pages_queue.ticket_photo)
    r.add_post("/tickets/{id}/{action}", pages_queue.ticket_action)
    r.add_get("/parked", pages_queue.parked_fragment)
    r.add_post("/parked/{entry}/{action}", pages_queue.parked_action)
    r.add_get("/announce", pages_announce.composer)
    r.add_post("/announce", pages_announce.send)
    r.add_get("/announce/audience", pages_announce.audience_matches)
    r.add_post("/announce/preview", pages_announce.preview)
    r.add_get("/announcements/{id}", pages_announce.announcement_page)
    r.add_get("/announcements/{id}/live", pages_announce.announcement_fragment)
    r.add_post("/announcements/{id}/{action}", pages_announce.announcement_action)
    r.add_get("/chats", pages_misc.chats_page)
    r.add_post("/chats/{id}/{action}", pages_misc.chat_action)
    r.add_get("/polls", pages_polls.polls_page)
    r.add_post("/polls", poll_actions.create)
    r.add_get("/polls/{id}", pages_polls.poll_page)
    r.add_get("/polls/{id}/live", pages_polls.poll_fragment)
    r.add_post("/polls/{id}/close", poll_actions.close)
    r.add_get("/overview", pages_misc.overview_page)
