"""JSON Schemas of what the API answers, and of its query, path and header parameters.

The request bodies come from each route's pydantic model; the answers are plain dicts
built by the stores' ``to_json``, so their schemas are written here, next to the error
shape. ``tests/hardening/test_schemathesis.py`` checks every answer against them, so a
field that changes type or disappears fails CI. A route without an entry here is
described as "any JSON" (still checked for 5xx and for the error shape).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
NSTR: Schema = {"type": ["string", "null"]}
NUM: Schema = {"type": "number"}
NNUM: Schema = {"type": ["number", "null"]}
INT: Schema = {"type": "integer", "minimum": 0}
BOOL: Schema = {"type": "boolean"}
COUNTS: Schema = {"type": "object", "additionalProperties": INT}


def obj(props: dict[str, Schema], *optional: str) -> Schema:
    """An object with these properties, all required but ``optional``; more may come."""
    required = [k for k in props if k not in optional]
    return {"type": "object", "properties": props, "required": required}


def array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def extend(base: Schema, props: dict[str, Schema]) -> Schema:
    return {"allOf": [base, obj(props)]}


ERROR: Schema = {
    **obj({"error": obj({"code": STR, "message": STR})}),
    "additionalProperties": False,
}
TARGET = obj(
    {"id": STR, "platform": STR, "kind": {"enum": ["group", "direct"]}, "title": NSTR,
     "tags": array(STR), "state": STR, "reason": NSTR, "updated_at": NUM}
)  # fmt: skip
DELIVERY = obj(
    {"delivery_id": STR, "target": STR, "platform": STR, "state": STR, "reason": NSTR,
     "retryable": BOOL, "attempts": INT, "message_ids": array(STR), "created_at": NUM,
     "sent_at": NNUM, "possible_duplicate": BOOL}
)  # fmt: skip
ANNOUNCEMENT = obj(
    {"id": STR, "text": STR, "title": NSTR, "priority": {"enum": ["normal", "urgent"]},
     "to": STR, "status": STR, "created_at": NUM, "send_at": NNUM, "targets": INT,
     "attachments": {"type": "array"}, "created_by": NSTR, "pruned_at": NNUM},
    "pruned_at",
)  # fmt: skip
ANNOUNCEMENT_DETAIL = extend(
    ANNOUNCEMENT,
    {"counts": COUNTS, "by_platform": {"type": "object", "additionalProperties": COUNTS},
     "replies": INT, "deliveries": array(DELIVERY)},
)  # fmt: skip
# Edit and recall: per-chat results when they are awaited, or the id of the queued
# work when they are not (the console's 202); either way the announcement and status.
ACTION_RESULTS = obj(
    {"id": STR, "status": STR,
     "results": array(obj({"target": STR, "platform": STR, "result": STR, "reason": NSTR})),
     "work": STR},
    "results", "work",
)  # fmt: skip
TICKET = obj(
    {"id": STR, "kind": {"enum": ["report", "reply", "message"]},
     "status": {"enum": ["new", "claimed", "resolved"]}, "category": STR,
     "priority": {"enum": ["normal", "urgent"]},
     "resident": obj({"platform": STR, "user_id": STR, "display_name": STR, "language": NSTR}),
     "target": STR, "chat_kind": STR, "chat_title": NSTR, "first_message_id": STR,
     "announcement": NSTR, "received_at": NUM, "first_response_at": NNUM, "resolved_at": NNUM,
     "assignee": NSTR, "note": NSTR, "messages": INT, "text": STR}
)  # fmt: skip
TICKET_DETAIL = extend(
    TICKET,
    {"conversation": array({"type": "object"}), "history": array({"type": "object"}),
     "outbound": array({"type": "object"})},
)  # fmt: skip
QUEUE = obj(
    {"depth": INT, "by_status": COUNTS, "by_kind": COUNTS, "by_category": COUNTS,
     "by_priority": COUNTS, "oldest_new_age_seconds": NNUM}
)  # fmt: skip

PARKED = obj(
    {"entry": STR, "error": STR, "at": NUM, "target": NSTR, "sender": NSTR, "text": NSTR,
     "raw": STR, "answered": BOOL}
)  # fmt: skip

RESPONSES: dict[tuple[str, str], Schema] = {
    ("POST", "/announcements"): obj({"id": STR, "status": STR, "targets": INT}),
    ("GET", "/announcements"): array(ANNOUNCEMENT),
    ("GET", "/announcements/{id}"): ANNOUNCEMENT_DETAIL,
    ("PATCH", "/announcements/{id}"): ACTION_RESULTS,
    ("DELETE", "/announcements/{id}"): ACTION_RESULTS,
    ("GET", "/outbox/dead-letters"): array(DELIVERY),
    ("GET", "/targets"): array(TARGET),
    ("PATCH", "/targets/{id}"): TARGET,
    ("GET", "/queue"): QUEUE,
    ("GET", "/queue/dead-letters"): array(PARKED),
    ("POST", "/queue/dead-letters/{entry}/retry"): obj({"entry": STR, "done": STR}),
    ("POST", "/queue/dead-letters/{entry}/handled"): obj({"entry": STR, "done": STR}),
    ("GET", "/tickets"): obj({"tickets": array(TICKET), "next_cursor": NSTR}),
    ("GET", "/tickets/{id}"): TICKET_DETAIL,
    ("POST", "/tickets/{id}/claim"): extend(TICKET, {"previous_assignee": NSTR}),
    ("POST", "/tickets/{id}/reply"): extend(TICKET, {"delivery_id": STR}),
    ("POST", "/tickets/{id}/resolve"): extend(TICKET, {"delivery_id": STR}),
    ("POST", "/tokens"): obj({"name": STR, "role": STR, "token": STR}),
    ("GET", "/whoami"): obj({"name": STR, "role": {"enum": ["admin", "staff", "viewer"]}}),
}

# Query parameters by name (the same name means the same thing on every route) and path
# parameters by route prefix; anything else is a plain string.
QUERY: dict[tuple[str, str], Schema] = {
    ("/announcements", "limit"): {"type": "integer", "minimum": 1, "maximum": 1000},
    ("/tickets", "limit"): {"type": "integer", "minimum": 1, "maximum": 500},
    ("/tickets", "status"): {"enum": ["new", "claimed", "resolved"]},
    ("/tickets", "kind"): {"enum": ["report", "reply", "message"]},
}
PATH_IDS: dict[str, Schema] = {
    "/announcements/": {"type": "string", "pattern": "^A-[0-9]{1,9}$"},
    "/tickets/": {"type": "string", "pattern": "^T-[0-9]{1,9}$"},
    "/targets/": {"type": "string", "pattern": "^(telegram|matrix):[^/]+$"},
}
HEADERS: dict[str, Schema] = {
    "Idempotency-Key": {"type": "string", "pattern": "^[!-~]{1,200}$"},
}
OPTIONAL_BODIES: dict[tuple[str, str], Schema] = {
    # Parsed by the handler itself: an empty body means {"force": false}.
    ("POST", "/tickets/{id}/claim"): {
        "type": "object", "properties": {"force": BOOL}, "additionalProperties": False,
    },
}  # fmt: skip
