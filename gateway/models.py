"""Values that cross layers: frozen, slotted dataclasses with ``NewType`` ids.

Adapters build ``InboundMessage`` and the target events from platform payloads, and
take ``OutboundMessage`` to send. Nothing here holds platform JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

Platform = NewType("Platform", str)
"""A platform name: ``telegram`` or ``matrix``."""

TargetId = NewType("TargetId", str)
"""A chat the gateway can post into: ``telegram:<chat_id>`` or ``matrix:<room_id>``."""

ChatId = NewType("ChatId", str)
"""The platform's own chat id, without the platform prefix."""

PlatformMessageId = NewType("PlatformMessageId", str)
"""A message id inside one chat: Telegram ``message_id`` or a Matrix ``event_id``."""

AnnouncementId = NewType("AnnouncementId", str)
"""``A-<n>``."""

TicketId = NewType("TicketId", str)
"""``T-<n>``."""

DeliveryId = NewType("DeliveryId", str)
"""One outbound send's identity; stable across retries and restarts."""

UserId = NewType("UserId", str)
"""A platform user id: Telegram user id or Matrix ``@user:server``."""


def make_target_id(platform: str, chat: str) -> TargetId:
    return TargetId(f"{platform}:{chat}")


def split_target_id(target: str) -> tuple[Platform, ChatId]:
    """``"matrix:!abc:example.org"`` -> ``("matrix", "!abc:example.org")``.

    Raises ``ValueError`` when there is no platform prefix.
    """
    platform, sep, chat = target.partition(":")
    if not sep or not platform or not chat:
        raise ValueError(f"target id {target!r} is not of the form platform:chat")
    return Platform(platform), ChatId(chat)


class ChatKind(StrEnum):
    GROUP = "group"
    DIRECT = "direct"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Command(StrEnum):
    """Commands the gateway understands; ``/报修`` normalises to ``REPORT``."""

    REPORT = "report"
    ASK = "ask"
    START = "start"
    HELP = "help"
    # Staff-room commands (``gateway.staffroom``); elsewhere they mean nothing special.
    CLAIM = "claim"
    RESOLVE = "resolve"
    QUEUE = "queue"
    ANNOUNCE = "announce"
    CONFIRM = "confirm"
    # As a reply to a parked message's card (``gateway.staffroom.parked``).
    HANDLED = "handled"
    RETRY = "retry"
    # ``/unit 5-302`` (``/房号``): a resident binds to a household (``gateway.households``).
    UNIT = "unit"


STAFF_COMMANDS = frozenset(
    {Command.CLAIM, Command.RESOLVE, Command.QUEUE, Command.ANNOUNCE, Command.CONFIRM,
     Command.HANDLED, Command.RETRY}
)  # fmt: skip


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    FILE = "file"
    VOICE = "voice"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A platform-side media reference (Telegram ``file_id``, Matrix ``mxc://`` URI)."""

    kind: AttachmentKind
    ref: str
    name: str | None = None
    mime: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    user_id: UserId
    display_name: str
    language: str | None = None
    is_bot: bool = False


# --- inbound events, produced by adapters ---------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One resident message, normalised.

    ``dedupe_key`` is unique per platform event (Telegram ``update_id``, Matrix
    ``event_id``); the sink drops a key it has seen. ``text`` has any leading command
    (and a ``@botname`` suffix) removed; ``command`` says which one it was.
    ``edit_of`` is set when this event edits an earlier message (its id).
    """

    platform: Platform
    dedupe_key: str
    target: TargetId
    chat_kind: ChatKind
    message_id: PlatformMessageId
    sender: Sender
    text: str
    sent_at: float
    chat_title: str | None = None
    reply_to: PlatformMessageId | None = None
    mentions_bot: bool = False
    command: Command | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    edit_of: PlatformMessageId | None = None


@dataclass(frozen=True, slots=True)
class TargetSeen:
    """The bot was added to a group or invited to a room: register the target."""

    target: TargetId
    kind: ChatKind
    title: str | None = None
    reason: str | None = None
    """Set when the chat is seen but cannot be used (``encrypted room: not supported yet``)."""


@dataclass(frozen=True, slots=True)
class TargetGone:
    """The bot was removed, blocked or banned: the target goes inactive."""

    target: TargetId
    reason: str


@dataclass(frozen=True, slots=True)
class TargetMigrated:
    """The chat moved to a new id (Telegram group -> supergroup)."""

    old: TargetId
    new: TargetId


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """Someone pressed an inline button under one of the bot's messages.

    ``message_id`` is the bot's message carrying the button, ``data`` the button's
    value; ``query_id`` is what the platform wants answered (Telegram
    ``callback_query.id``), within seconds, so it is answered directly, not queued.

    A Matrix reaction (``m.annotation``) is the same gesture on a platform without
    buttons: ``data`` is ``REACTION_PREFIX + key`` (``react:✅``), ``message_id`` the
    event reacted to (anyone's: the core checks it is the bot's), ``query_id`` empty.
    """

    platform: Platform
    dedupe_key: str
    target: TargetId
    message_id: PlatformMessageId
    sender: Sender
    data: str
    query_id: str
    sent_at: float


REACTION_PREFIX = "react:"
"""``ButtonPress.data`` of a reaction: ``react:`` and the reaction's key."""


@dataclass(frozen=True, slots=True)
class PollVote:
    """A resident's answer to one of the bot's native polls (``gateway.polls``).

    ``poll_ref`` is the platform's handle of that poll message: Telegram's ``poll.id``
    (a ``poll_answer`` names no chat, so ``target`` is ``None``), a Matrix poll start's
    event id. ``options`` are 0-based option indexes; empty: the vote was retracted.
    """

    platform: Platform
    dedupe_key: str
    poll_ref: str
    sender: Sender
    options: tuple[int, ...]
    sent_at: float
    target: TargetId | None = None


InboundEvent = InboundMessage | TargetSeen | TargetGone | TargetMigrated | ButtonPress | PollVote


# --- outbound, consumed by adapters ---------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    kind: AttachmentKind
    filename: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button under a message (Telegram ``inline_keyboard``); pressing it
    comes back as a ``ButtonPress`` carrying ``data``. Platforms without buttons
    ignore them."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class PollSpec:
    """A native poll to send (Telegram ``sendPoll``, Matrix ``m.poll.start``).

    The message's ``text`` stays the numbered-options fallback, sent instead where a
    native poll is refused."""

    question: str
    options: tuple[str, ...]
    multiple: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    """A person named in a message by platform user id, so they are notified
    (Telegram: a text mention; Matrix: a pill and ``m.mentions.user_ids``)."""

    user_id: UserId
    name: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to post into one chat.

    ``text`` is in the core Markdown subset (see ``gateway.markdown``) unless
    ``plain`` is true, in which case it is shown exactly as written (staff replies).
    ``idempotency_key`` is derived from the delivery's identity and is the same on
    every retry: Matrix uses it as the transaction id.
    """

    target: TargetId
    text: str
    idempotency_key: str
    title: str | None = None
    attachments: tuple[OutboundAttachment, ...] = ()
    reply_to: PlatformMessageId | None = None
    priority: Priority = Priority.NORMAL
    plain: bool = False
    buttons: tuple[Button, ...] | None = None
    """One row of inline buttons; ``()`` on an edit removes them. ``None``: none on a
    send, the platform's default on an edit (Telegram drops the buttons)."""
    thread: bool = False
    """``reply_to`` is a thread root: post in its thread (Matrix ``m.thread``)."""
    poll: PollSpec | None = None
    """Send a native poll (``text`` is the fallback where the chat refuses one)."""
    stop_poll: bool = False
    """``reply_to`` is a poll sent earlier: end it (Telegram ``stopPoll``, Matrix
    ``m.poll.end``), then post ``text`` (the result) replying to it."""
    mentions: tuple[Mention, ...] = ()
    """Named after the text, comma-separated, each a mention of that user."""
    permit: str | None = None
    """The outbox worker's rate permit for this send, when it is counted from its answer
    (``gateway.ratelimit``). An adapter that sends more than one platform message may
    count its first from that answer (``RateLimiter.sent``), so the second is not held
    back by a send that has already arrived; the worker counts it again at the end."""


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What a send produced. Long texts may be split into several platform messages."""

    target: TargetId
    message_ids: tuple[PlatformMessageId, ...]
    sent_at: float


@dataclass(frozen=True, slots=True)
class RateRule:
    """At most ``limit`` sends per rolling ``window`` seconds for everything sharing ``key``.

    Keys are shared by every palm process on the same Redis, so a key must name the
    bot account too (for example ``telegram:<bot_id>:chat:<chat_id>``).

    ``spread`` also keeps consecutive sends ``window / limit`` apart. A window that is
    filled in one burst makes every request arrive at once, and their latencies then
    differ by more than the margin a platform that counts arrival times tolerates;
    evenly spaced sends keep that jitter small at the same average rate.
    """

    key: str
    limit: int
    window: float
    spread: bool = False
    bot_wide: bool = False
    """The whole bot's limit (not one chat's): automatic answers get half of it."""
    pace: bool = False
    """Each process also paces its own sends on an even grid of ``window / limit``
    before asking the shared limiter: for rates too high for ``spread`` (1,000/s), where
    workers woken together by a freed window would burst, and a late send of one burst
    would land in the next window on the platform's clock."""
