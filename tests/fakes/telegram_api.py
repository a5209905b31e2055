"""A fake Telegram Bot API server: real HTTP, real Bot API JSON, enforced limits.

Used by the Telegram adapter tests and by the benchmarks::

    fake = FakeTelegram()
    await fake.start()
    bot = telegram.Bot(fake.token, base_url=fake.base_url)
    ...
    assert fake.violations == 0
    await fake.aclose()

What it does, per bot token:

* ``getMe``, ``getUpdates`` (long polling; ``offset`` confirms and drops every update
  with a lower ``update_id``), ``setWebhook``/``deleteWebhook``/``getWebhookInfo``,
  ``sendMessage``/``sendPhoto``/``sendDocument``, ``editMessageText``/``editMessageCaption``,
  ``deleteMessage``. Bodies may be JSON, urlencoded or multipart, like the real API; PTB 22
  sends urlencoded fields (nested values JSON-encoded) and multipart when it uploads.
* Refuses what the real Bot API refuses where tests lean on it (``tg_rules``): HTML
  markup, text and caption lengths in UTF-16 units after parsing, 10 MB photos and 50 MB
  files, replies to missing messages unless ``allow_sending_without_reply``.
* Enforces the limits with rolling windows on the arrival time of each send: 30 per
  second per bot, 1 per second per chat (no bursts), 20 per minute per group (negative
  chat id). A send that breaks one gets the real 429 body and counts in ``violations``.
  A send with ``allow_paid_broadcast`` is not counted in the 30/s but in 1,000/s per bot
  (every send counts there); a bot told ``paid_broadcast = False`` refuses it.
* Scripted faults (``fail``): 403 blocked/kicked, 400 chat not found, 400 migrated,
  409 conflict, forced 429, latency, a connection reset before processing, and a reset
  *after* the message was accepted and recorded. ``go_down``/``go_up`` refuse
  connections altogether (the one failure a client can know happened before sending).
* The simulated-user side: ``private_message``, ``group_message``, ``photo`` ... build
  real update JSON and queue it for ``getUpdates``; ``post_webhook`` POSTs one update to
  a webhook URL with the secret header.
* ``getUpdates`` calls that overlap in time are counted in ``overlapping_polls`` (the
  newer one terminates the older with 409, as Telegram does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes import tg_rules
from tests.fakes.tg_files import FileError, Files
from tests.fakes.tg_inline import Callbacks, InlineError, Members, check_markup
from tests.fakes.tg_mentions import text_mentions
from tests.fakes.tg_polls import FakePoll, PollError, Polls

__all__ = ["FakeBot", "FakeTelegram", "Fault", "SentMessage"]

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
DELETE_WINDOW = 48 * 3600.0


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


PAID_PER_SECOND = 1000
"""Bot API ``allow_paid_broadcast``: "up to 1000 messages per second, ignoring
broadcasting limits for a fee of 0.1 Telegram Stars per message"."""
PAID_REFUSED = "Bad Request: BALANCE_TOO_LOW"
"""What a bot that cannot pay gets for a paid send. The Bot API documents no error for
this; modelled on MTProto's BALANCE_TOO_LOW ("the current Telegram Stars balance is too
low"), which the Bot API passes through as a 400 "Bad Request: <ERROR>" like others."""


def too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


FAULTS: dict[str, tuple[int, str]] = {
    "blocked": (403, "Forbidden: bot was blocked by the user"),
    "kicked": (403, "Forbidden: bot was kicked from the group chat"),
    "chat_not_found": (400, "Bad Request: chat not found"),
    "migrated": (400, "Bad Request: group chat was upgraded to a supergroup chat"),
    "conflict": (409, "Conflict: terminated by other getUpdates request"),
    "retry_after": (429, ""),
    "rejected": (400, "Bad Request: can't parse entities: unsupported start tag"),
}


@dataclass
class Fault:
    """One scripted failure. ``chat_id``/``method`` None match any; ``times`` None = forever.

    ``kind``: a key of ``FAULTS``, or ``latency`` (sleep ``delay`` then answer normally),
    ``reset_before`` (drop the connection without processing), ``reset_after`` (process
    and record, then drop the connection instead of answering).
    """

    kind: str
    chat_id: int | None = None
    method: str | None = None
    times: int | None = None
    retry_after: int = 1
    migrate_to: int | None = None
    delay: float = 0.0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    method: str
    text: str | None
    """What the user sees: HTML parsed away, entities unescaped."""
    raw: str | None
    date: float
    reply_to: int | None = None
    caption: str | None = None
    file_name: str | None = None
    file_size: int = 0
    deleted: bool = False
    edits: int = 0
    reply_markup: dict[str, Any] | None = None
    text_history: list[str] = field(default_factory=list)
    """Every text this message showed, the first included (edits append)."""
    entities: list[dict[str, Any]] = field(default_factory=list)
    """``text_mention`` entities (``tests.fakes.tg_mentions``)."""
    paid: bool = False
    """Sent with ``allow_paid_broadcast``."""


@dataclass
class FakeBot:
    token: str
    bot_id: int
    username: str
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    webhook_url: str = ""
    webhook_secret: str | None = None
    allowed_updates: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    by_id: dict[tuple[int, int], SentMessage] = field(default_factory=dict)
    residents_messages: set[tuple[int, int]] = field(default_factory=set)
    """(chat, message_id) of every resident message built here: a reply may target them."""
    next_message_id: dict[int, int] = field(default_factory=dict)
    bot_log: deque[float] = field(default_factory=deque)
    """Arrival times of free sends (30/s)."""
    all_log: deque[float] = field(default_factory=deque)
    """Arrival times of every send, paid or free (1,000/s with ``allow_paid_broadcast``)."""
    paid_broadcast: bool = True
    """False: the bot cannot pay (no Stars, too few users); a paid send gets
    ``PAID_REFUSED`` (see ``_send``)."""
    paid_sends: int = 0
    chat_log: dict[int, deque[float]] = field(default_factory=dict)
    violations: int = 0
    violation_log: list[str] = field(default_factory=list)
    forced_429: int = 0
    polls: int = 0
    overlapping_polls: int = 0
    active_poll: asyncio.Future[None] | None = None
    new_update: asyncio.Event = field(default_factory=asyncio.Event)
    requests: dict[str, int] = field(default_factory=dict)
    left_chats: list[int] = field(default_factory=list)
    """Chats the bot left with ``leaveChat``, in order (sends there get 403)."""

    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    """setMyCommands: (scope type, language_code or "") -> the commands."""
    command_calls: list[tuple[str, str]] = field(default_factory=list)


def visible_text(raw: str, parse_mode: str | None) -> str:
    """What the user sees; the server's 400 for bad markup (``tg_rules.parse_html``)."""
    try:
        return tg_rules.visible(raw, parse_mode)
    except tg_rules.RuleError as err:
        raise ApiError(err.code, err.description) from None


def _chat(chat_id: int, title: str | None = None) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": title or f"Group {chat_id}"}


class FakeTelegram:
    """The fake server. One instance serves any number of bots (``add_bot``)."""

    def __init__(
        self,
        token: str = "123456789:TEST-token-abcdefghijklmnopqrstuvwxyz",
        *,
        username: str = "palm_test_bot",
        enforce_limits: bool = True,
    ) -> None:
        self.enforce_limits = enforce_limits
        self.faults: list[Fault] = []
        self.bots: dict[str, FakeBot] = {}
        self.token = token
        self.add_bot(token, username)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._user_ids = itertools.count(10_000)
        """file_id -> (file_path, bytes), for getFile and the /file/ route."""
        self._session: aiohttp.ClientSession | None = None
        self.members = Members()
        self.callbacks = Callbacks()
        self.polls = Polls()
        self.files = Files()

    # --- life cycle -------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await self.go_up()

    async def go_down(self) -> None:
        """Stop listening and drop open connections: new connections are refused."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            for conn in self._runner.server.connections:
                conn.force_close()
            await asyncio.sleep(0.05)  # let the FINs reach the clients' idle pools

    async def go_up(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await self._site.start()
        # the port chosen by the OS on the first start; reused by later go_up calls
        sockets: Any = getattr(self._site._server, "sockets", ())
        self._port = int(sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        for bot in self.bots.values():
            if bot.active_poll and not bot.active_poll.done():
                bot.active_poll.cancel()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_file_url(self) -> str:
        """For ``telegram.Bot(..., base_file_url=fake.base_file_url)``."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.bots:
            return web.Response(status=401)
        data = self.files.download(request.match_info["path"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    @property
    def base_url(self) -> str:
        """For ``telegram.Bot(token, base_url=fake.base_url)``."""
        return f"http://127.0.0.1:{self._port}/bot"

    def add_file(self, file_id: str, data: bytes, path: str) -> None:
        """Serve ``data`` for ``getFile(file_id)`` (``path`` as Telegram's ``file_path``)."""
        self.files.put(file_id, data, path)

    def add_bot(self, token: str, username: str) -> FakeBot:
        bot_id = int(token.split(":", 1)[0])
        self.bots[token] = FakeBot(token=token, bot_id=bot_id, username=username)
        return self.bots[token]

    @property
    def bot(self) -> FakeBot:
        return self.bots[self.token]

    # --- what tests assert on (default bot) -------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        return self.bot.messages

    @property
    def violations(self) -> int:
        return sum(b.violations for b in self.bots.values())

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.bot.messages if m.chat_id == chat_id]

    def fail(self, kind: str, **kw: Any) -> Fault:
        """Script a fault; see ``Fault``. Returns it so a test can change ``times``."""
        if kind not in FAULTS and kind not in ("latency", "reset_before", "reset_after"):
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(kind, **kw)
        self.faults.append(fault)
        return fault

    def age_messages(self, seconds: float) -> None:
        """Make every message look ``seconds`` older (for the 48 h delete rule)."""
        for bot in self.bots.values():
            for m in bot.messages:
                m.date -= seconds

    # --- simulated users ---------------------------------------------------

    def enqueue(self, update: dict[str, Any], bot: FakeBot | None = None) -> dict[str, Any]:
        """Queue a raw update (an ``update_id`` is assigned) for ``getUpdates``."""
        b = bot or self.bot
        update = {"update_id": b.next_update_id, **update}
        b.next_update_id += 1
        b.updates.append(update)
        b.new_update.set()
        return update

    def jump_update_id(self, to: int, bot: FakeBot | None = None) -> None:
        """Telegram picks a random next update_id after a quiet week."""
        (bot or self.bot).next_update_id = to

    def user(self, user_id: int | None = None, language: str | None = "en") -> dict[str, Any]:
        uid = user_id if user_id is not None else next(self._user_ids)
        u: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": f"Resident{uid}"}
        if language:
            u["language_code"] = language
        return u

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        sender: dict[str, Any] | None = None,
        message_id: int | None = None,
        reply_to: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A ``Message`` object from a resident; commands get their ``bot_command`` entity."""
        mid = message_id if message_id is not None else self._next_mid(self.bot, chat_id)
        msg: dict[str, Any] = {
            "message_id": mid,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": sender or self.user(chat_id if chat_id > 0 else None),
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/") and text[1:2].isascii() and text[1:2].isalpha():
                length = len(text.split(maxsplit=1)[0])
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            bot_user = {
                "id": self.bot.bot_id,
                "is_bot": True,
                "first_name": "Palm",
                "username": self.bot.username,
            }
            msg["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()) - 60,
                "chat": _chat(chat_id),
                "from": bot_user,
                "text": "…",
            }
        msg.update(extra)
        self.bot.residents_messages.add((chat_id, mid))
        return msg

    def private_message(self, chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
        return self.enqueue({"message": self.message(chat_id, text, **kw)})

    def group_message(self, chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
        return self.enqueue({"message": self.message(chat_id, text, **kw)})

    def photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {
                "file_id": f"ph-small-{n}",
                "file_unique_id": f"u{n}",
                "width": w,
                "height": w,
                "file_size": w * 10,
            }
            for n, w in enumerate((90, 320, 1280))
        ]
        for size in sizes:  # downloadable with getFile, like Telegram's
            if size["file_id"] in self.files.data:
                continue  # a test's own bytes for it (add_file) win
            pixels = f"fake-jpeg {size['width']}px ".encode() * size["width"]
            self.files.put(size["file_id"], pixels[: size["file_size"]])
        extra: dict[str, Any] = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        return self.enqueue({"message": self.message(chat_id, None, **extra)})

    def document(self, chat_id: int, name: str = "leak.pdf") -> dict[str, Any]:
        doc = {
            "file_id": "doc-1",
            "file_unique_id": "ud1",
            "file_name": name,
            "mime_type": "application/pdf",
            "file_size": 1234,
        }
        return self.enqueue({"message": self.message(chat_id, None, document=doc)})

    def location(self, chat_id: int, lat: float, lon: float) -> dict[str, Any]:
        loc = {"latitude": lat, "longitude": lon}
        return self.enqueue({"message": self.message(chat_id, None, location=loc)})

    def edited(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        msg = self.message(chat_id, text, message_id=message_id, edit_date=int(time.time()))
        return self.enqueue({"edited_message": msg})

    def member_update(self, chat_id: int, new_status: str, old_status: str) -> dict[str, Any]:
        """``my_chat_member``: e.g. ("member", "left") added, ("kicked", "member") removed."""
        me = {
            "id": self.bot.bot_id,
            "is_bot": True,
            "first_name": "Palm",
            "username": self.bot.username,
        }
        upd = {
            "chat": _chat(chat_id),
            "from": self.user(),
            "date": int(time.time()),
            "old_chat_member": {"user": me, "status": old_status},
            "new_chat_member": {"user": me, "status": new_status},
        }
        return self.enqueue({"my_chat_member": upd})

    def add_bot_to_group(
        self, chat_id: int, title: str | None = None, *, by: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Someone adds the bot to a group: the ``my_chat_member`` update Telegram sends
        (chat, from, date, old_chat_member ``left``, new_chat_member ``member``)."""
        b = self.bot
        if chat_id in b.left_chats:
            b.left_chats.remove(chat_id)
        return self.enqueue(
            {"my_chat_member": self._membership(chat_id, title, by, "left", "member")}
        )

    def _membership(
        self, chat_id: int, title: str | None, by: dict[str, Any] | None, old: str, new: str
    ) -> dict[str, Any]:
        me = {"id": self.bot.bot_id, "is_bot": True, "first_name": "Palm",
              "username": self.bot.username}  # fmt: skip
        return {
            "chat": _chat(chat_id, title),
            "from": by or self.user(),
            "date": int(time.time()),
            "old_chat_member": {"user": me, "status": old},
            "new_chat_member": {"user": me, "status": new},
        }

    def _leave(self, bot: FakeBot, chat_id: int) -> bool:
        """``leaveChat``: Telegram then sends the bot its own ``my_chat_member`` (left)."""
        if chat_id > 0:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        if chat_id in bot.left_chats:
            raise ApiError(403, "Forbidden: bot is not a member of the group chat")
        bot.left_chats.append(chat_id)
        me = {"id": bot.bot_id, "is_bot": True, "first_name": "Palm", "username": bot.username}
        update = self._membership(chat_id, None, me, "member", "left")
        self.enqueue({"my_chat_member": update}, bot)
        return True

    def migrate(self, old_chat_id: int, new_chat_id: int) -> dict[str, Any]:
        """The service message Telegram posts in the old group on upgrade."""
        msg = self.message(old_chat_id, None, migrate_to_chat_id=new_chat_id)
        return self.enqueue({"message": msg})

    def press(self, chat_id: int, message_id: int, data: str, user: dict[str, Any]) -> str:
        """A user presses an inline button under the bot's message: a ``callback_query``
        update is queued; returns the query id (see ``callbacks.answers``)."""
        b = self.bot
        m = b.by_id[(chat_id, message_id)]
        query = self.callbacks.new(user, self._message_json(b, m), data)
        self.enqueue({"callback_query": query})
        return str(query["id"])

    async def post_webhook(self, url: str, update: dict[str, Any], secret: str | None) -> int:
        """Deliver one update like Telegram's webhook does; returns the HTTP status."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        if "update_id" not in update:
            update = {"update_id": self.bot.next_update_id, **update}
            self.bot.next_update_id += 1
        async with self._session.post(url, json=update, headers=headers) as resp:
            await resp.read()
            return resp.status

    # --- the server ----------------------------------------------------------

    def _next_mid(self, bot: FakeBot, chat_id: int) -> int:
        mid = bot.next_message_id.get(chat_id, 1)
        bot.next_message_id[chat_id] = mid + 1
        return mid

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: invalid JSON body")
            return body
        out: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    out[key] = value
                elif isinstance(value, str) and value[:1] in ("[", "{"):
                    # PTB JSON-encodes nested objects inside form fields
                    try:
                        out[key] = json.loads(value)
                    except ValueError:
                        out[key] = value
                else:
                    out[key] = value
        return out

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        bot = self.bots.get(request.match_info["token"])
        method = request.match_info["method"]
        if bot is None:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        bot.requests[method] = bot.requests.get(method, 0) + 1
        try:
            params = await self._params(request)
            chat_id = _opt_int(params.get("chat_id"))
            after_reset = await self._apply_faults(bot, request, method, chat_id)
            result = await self._dispatch(bot, method, params, chat_id)
        except (InlineError, FileError, PollError) as err:
            return web.json_response(ApiError(400, err.description).body(), status=400)
        except ApiError as err:
            return web.json_response(err.body(), status=err.code)
        except tg_rules.RuleError as err:
            return web.json_response(ApiError(err.code, err.description).body(), status=err.code)
        if after_reset:
            _reset(request)
            return web.Response(status=500)  # never reaches the client
        return web.json_response({"ok": True, "result": result})

    async def _apply_faults(
        self, bot: FakeBot, request: web.Request, method: str, chat_id: int | None
    ) -> bool:
        """Raise the first matching scripted fault; True = reset after processing."""
        reset_after = False
        for fault in self.faults:
            if not fault.matches(method, chat_id):
                continue
            if fault.times is not None:
                fault.times -= 1
            if fault.kind == "latency":
                await asyncio.sleep(fault.delay)
                continue
            if fault.kind == "reset_before":
                _reset(request)
                raise ApiError(500, "reset")  # the connection is gone already
            if fault.kind == "reset_after":
                reset_after = True
                continue
            code, text = FAULTS[fault.kind]
            if fault.kind == "retry_after":
                bot.forced_429 += 1
                raise too_many(fault.retry_after)
            if fault.kind == "migrated":
                raise ApiError(code, text, migrate_to_chat_id=fault.migrate_to)
            raise ApiError(code, text)
        return reset_after

    async def _dispatch(
        self, bot: FakeBot, method: str, p: dict[str, Any], chat_id: int | None
    ) -> Any:
        if method == "getMe":
            return {
                "id": bot.bot_id,
                "is_bot": True,
                "first_name": "Palm",
                "username": bot.username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getUpdates":
            return await self._get_updates(bot, p)
        if method == "setWebhook":
            bot.webhook_url = str(p.get("url", ""))
            bot.webhook_secret = p.get("secret_token")
            bot.allowed_updates = list(p.get("allowed_updates") or [])
            return True
        if method == "deleteWebhook":
            bot.webhook_url = ""
            if str(p.get("drop_pending_updates", "")).lower() == "true":
                bot.updates.clear()
            return True
        if method == "getWebhookInfo":
            return {
                "url": bot.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(bot.updates),
                "allowed_updates": bot.allowed_updates,
            }
        if method == "answerCallbackQuery":
            return self.callbacks.answer(p)
        if method == "getFile":
            return self.files.get_file(p)

        if method in ("setMyCommands", "getMyCommands", "deleteMyCommands"):
            return _my_commands(bot, method, p)
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if method == "getChatMemberCount":  # Bot API: returns Int
            return self.members.count(chat_id)
        if method == "getChatMember":
            user_id = _opt_int(p.get("user_id"))
            if user_id is None:
                raise ApiError(400, "Bad Request: user_id is empty")
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            return self.members.member(chat_id, user)
        if method in SEND_METHODS:
            if chat_id in bot.left_chats:
                raise ApiError(403, "Forbidden: bot is not a member of the group chat")
            return self._send(bot, method, p, chat_id)
        if method == "sendPoll":
            return self._send_poll(bot, p, chat_id)
        if method == "stopPoll":
            return self.polls.stop(chat_id, _opt_int(p.get("message_id")) or 0)
        if method in ("editMessageText", "editMessageCaption"):
            return self._edit(bot, method, p, chat_id)
        if method == "deleteMessage":
            return self._delete(bot, p, chat_id)
        if method == "leaveChat":
            return self._leave(bot, chat_id)
        raise ApiError(404, "Not Found")

    async def _get_updates(self, bot: FakeBot, p: dict[str, Any]) -> list[dict[str, Any]]:
        if bot.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        bot.polls += 1
        if bot.active_poll is not None and not bot.active_poll.done():
            # Telegram answers the older request with 409 and serves the newer one.
            bot.overlapping_polls += 1
            bot.active_poll.set_exception(
                ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that"
                    " only one bot instance is running",
                )
            )
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        bot.active_poll = mine
        try:
            offset = _opt_int(p.get("offset"))
            limit = min(max(_opt_int(p.get("limit")) or 100, 1), 100)
            timeout = max(0.0, float(p.get("timeout") or 0))
            if offset is not None:
                if offset < 0:
                    keep = list(bot.updates)[offset:]
                    bot.updates = deque(keep)
                else:
                    while bot.updates and bot.updates[0]["update_id"] < offset:
                        bot.updates.popleft()
            allowed = p.get("allowed_updates")
            if isinstance(allowed, list) and allowed:
                bot.allowed_updates = [str(a) for a in allowed]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not _drop_unwanted(bot):
                bot.new_update.clear()
                waiter: asyncio.Future[Any] = asyncio.ensure_future(bot.new_update.wait())
                pending: set[asyncio.Future[Any]] = {waiter, mine}
                done, _ = await asyncio.wait(
                    pending,
                    timeout=deadline - time.monotonic(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiter.cancel()
                if mine in done:
                    mine.result()  # raises the 409
            if mine.done() and not mine.cancelled():
                mine.result()
            _drop_unwanted(bot)
            return list(itertools.islice(bot.updates, limit))
        finally:
            if not mine.done():
                mine.set_result(None)
            if bot.active_poll is mine:
                bot.active_poll = None

    def _check_limits(self, bot: FakeBot, chat_id: int, paid: bool = False) -> None:
        now = time.monotonic()
        while bot.bot_log and bot.bot_log[0] <= now - 1.0:
            bot.bot_log.popleft()
        while bot.all_log and bot.all_log[0] <= now - 1.0:
            bot.all_log.popleft()
        log = bot.chat_log.setdefault(chat_id, deque())
        window = 60.0 if chat_id < 0 else 1.0
        while log and log[0] <= now - window:
            log.popleft()
        broken: str | None = None
        wait = 0.0
        if self.enforce_limits:
            if len(bot.all_log) >= PAID_PER_SECOND:
                broken = f"{PAID_PER_SECOND}/s per bot (paid broadcast)"
                wait = bot.all_log[-PAID_PER_SECOND] + 1.0 - now
            elif not paid and len(bot.bot_log) >= 30:
                broken, wait = "30/s per bot", bot.bot_log[-30] + 1.0 - now
            elif log and now - log[-1] < 1.0:
                broken, wait = f"1/s in chat {chat_id}", log[-1] + 1.0 - now
            elif chat_id < 0 and len(log) >= 20:
                broken, wait = f"20/min in group {chat_id}", log[-20] + 60.0 - now
        if broken:
            bot.violations += 1
            bot.violation_log.append(broken)
            raise too_many(max(1, math.ceil(wait)))
        if not paid:
            bot.bot_log.append(now)
        bot.all_log.append(now)
        log.append(now)

    def _send(self, bot: FakeBot, method: str, p: dict[str, Any], chat_id: int) -> Any:
        parse_mode = p.get("parse_mode")
        file_name, size = None, 0
        if method == "sendMessage":
            raw = str(p.get("text") or "")
            text: str | None = tg_rules.check_text(raw, parse_mode)
            caption = None
        else:
            field_name = "photo" if method == "sendPhoto" else "document"
            media = p.get(field_name)
            if media is None:
                raise ApiError(400, f"Bad Request: there is no {field_name} in the request")
            if isinstance(media, web.FileField):
                file_name = media.filename
                size = len(media.file.read())
                tg_rules.check_media_size(method, size)
            raw = str(p.get("caption") or "")
            caption = tg_rules.check_caption(raw, parse_mode)
            text = None
        markup = check_markup(p.get("reply_markup"))
        reply_to = tg_rules.check_reply(p, _reply_to(p), self._exists(bot, chat_id, _reply_to(p)))
        paid = _flag(p.get("allow_paid_broadcast"))
        if paid and not bot.paid_broadcast:
            raise ApiError(400, PAID_REFUSED)
        self._check_limits(bot, chat_id, paid)
        bot.paid_sends += paid
        mid = self._next_mid(bot, chat_id)
        sent = SentMessage(
            chat_id, mid, method, text, raw, time.time(), reply_to, caption, file_name, size
        )
        sent.reply_markup = markup
        sent.entities = text_mentions(raw, parse_mode) if text is not None else []
        sent.paid = paid
        sent.text_history.append(text if text is not None else caption or "")
        bot.messages.append(sent)
        bot.by_id[(chat_id, mid)] = sent
        return self._message_json(bot, sent)

    @staticmethod
    def _exists(bot: FakeBot, chat_id: int, message_id: int | None) -> bool:
        """A message a reply can target: one of ours not deleted, or a resident's."""
        if message_id is None:
            return False
        ours = bot.by_id.get((chat_id, message_id))
        if ours is not None:
            return not ours.deleted
        return (chat_id, message_id) in bot.residents_messages

    def _send_poll(self, bot: FakeBot, p: dict[str, Any], chat_id: int) -> Any:
        self.polls.check_send(p, chat_id)
        self._check_limits(bot, chat_id)
        mid = self._next_mid(bot, chat_id)
        poll = self.polls.new(p, chat_id, mid)
        sent = SentMessage(chat_id, mid, "sendPoll", None, None, time.time(), _reply_to(p))
        sent.text_history.append(poll.question)
        bot.messages.append(sent)
        bot.by_id[(chat_id, mid)] = sent
        return self._message_json(bot, sent)

    def vote(self, poll_id: str, user: dict[str, Any], option_ids: list[int]) -> dict[str, Any]:
        """A user answers (or with ``[]`` retracts) a poll: queues the ``poll_answer``."""
        return self.enqueue({"poll_answer": self.polls.answer(poll_id, user, option_ids)})

    def poll_in(self, chat_id: int) -> FakePoll:
        """The newest poll the bot sent into ``chat_id``."""
        return [q for q in self.polls.by_id.values() if q.chat_id == chat_id][-1]

    def _message_json(self, bot: FakeBot, m: SentMessage) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": int(m.date),
            "chat": _chat(m.chat_id),
            "from": {
                "id": bot.bot_id,
                "is_bot": True,
                "first_name": "Palm",
                "username": bot.username,
            },
        }
        if m.text is not None:
            out["text"] = m.text
        if m.caption is not None:
            out["caption"] = m.caption
        if m.reply_markup and m.reply_markup.get("inline_keyboard"):
            out["reply_markup"] = m.reply_markup
        if m.method == "sendPoll":
            out["poll"] = self.polls.by_message[(m.chat_id, m.message_id)].to_json()
        if m.method == "sendPhoto":
            out["photo"] = [
                {
                    "file_id": f"sent-{m.message_id}",
                    "file_unique_id": "x",
                    "width": 100,
                    "height": 100,
                }
            ]
        if m.method == "sendDocument":
            out["document"] = {
                "file_id": f"sent-{m.message_id}",
                "file_unique_id": "y",
                "file_name": m.file_name or "file",
            }
        return out

    def _find(self, bot: FakeBot, p: dict[str, Any], chat_id: int, what: str) -> SentMessage:
        mid = _opt_int(p.get("message_id"))
        m = bot.by_id.get((chat_id, mid or 0))
        if m is None or m.deleted:
            raise ApiError(400, f"Bad Request: message to {what} not found")
        return m

    def _edit(self, bot: FakeBot, method: str, p: dict[str, Any], chat_id: int) -> Any:
        m = self._find(bot, p, chat_id, "edit")
        markup = check_markup(p.get("reply_markup"))
        # Without reply_markup an edit removes the inline keyboard (as Telegram does).
        markup_same = (markup or {}).get("inline_keyboard") == (m.reply_markup or {}).get(
            "inline_keyboard"
        ) or (not markup and not (m.reply_markup or {}).get("inline_keyboard"))
        m.reply_markup = markup
        if method == "editMessageText":
            if m.text is None:
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            new = tg_rules.check_text(str(p.get("text") or ""), p.get("parse_mode"))
            if new == m.text and markup_same:
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new "
                    "message content and reply markup are exactly the same",
                )
            m.text = new
            m.text_history.append(new)
        else:
            if m.method == "sendMessage":
                raise ApiError(400, "Bad Request: there is no caption in the message to edit")
            new = tg_rules.check_caption(str(p.get("caption") or ""), p.get("parse_mode")) or ""
            m.caption = new
        m.edits += 1
        return self._message_json(bot, m)

    def _delete(self, bot: FakeBot, p: dict[str, Any], chat_id: int) -> bool:
        m = self._find(bot, p, chat_id, "delete")
        if time.time() - m.date > DELETE_WINDOW:
            raise ApiError(400, "Bad Request: message can't be deleted")
        m.deleted = True
        return True


def _flag(value: Any) -> bool:
    """A Bot API Boolean parameter, from JSON (true) or a form field ("true")."""
    return value is True or str(value).lower() in ("true", "1")


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid integer {value!r}") from None


_DEFAULT_UPDATES_OFF = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _drop_unwanted(bot: FakeBot) -> bool:
    """Telegram never delivers update types not asked for: drop them; any left?"""
    if any(not _wanted(u, bot.allowed_updates) for u in bot.updates):
        bot.updates = deque(u for u in bot.updates if _wanted(u, bot.allowed_updates))
    return bool(bot.updates)


def _wanted(update: dict[str, Any], allowed: list[str]) -> bool:
    """Telegram sends only the update types asked for in ``allowed_updates`` (by
    default all but chat_member and the reactions)."""
    kind = next((k for k in update if k != "update_id"), "")
    return kind in allowed if allowed else kind not in _DEFAULT_UPDATES_OFF


def _reply_to(p: dict[str, Any]) -> int | None:
    rp = p.get("reply_parameters")
    if isinstance(rp, dict):
        return _opt_int(rp.get("message_id"))
    return _opt_int(p.get("reply_to_message_id"))


_SCOPES = {
    "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
    "chat_administrators", "chat_member",
}  # fmt: skip


def _command_key(p: dict[str, Any]) -> tuple[str, str]:
    """(scope type, language_code) as the Bot API docs define them (default scope, no code)."""
    scope = p.get("scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise ApiError(400, "Bad Request: can't parse BotCommandScope")
    lang = str(p.get("language_code") or "")
    if lang and not re.fullmatch(r"[a-z]{2}", lang):
        raise ApiError(400, "Bad Request: LANG_CODE_INVALID")
    return str(scope["type"]), lang


def _my_commands(bot: FakeBot, method: str, p: dict[str, Any]) -> Any:
    """setMyCommands / getMyCommands / deleteMyCommands, validated like the Bot API:
    at most 100 commands, names of 1-32 lowercase Latin letters, digits and underscores,
    descriptions of 1-256 characters."""
    key = _command_key(p)
    if method == "getMyCommands":
        return bot.commands.get(key, [])
    if method == "deleteMyCommands":
        bot.commands.pop(key, None)
        return True
    commands = p.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: commands must be an array of at most 100 BotCommand")
    for c in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(c.get("description", ""))) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands[key] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    bot.command_calls.append(key)
    return True
