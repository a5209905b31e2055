"""Attachment bytes in Redis, stored once by content hash.

An announcement to 300 chats with a 5 MB flyer stores the flyer once (``blob:<sha256>``
through the binary client); every delivery refers to it by hash, so every platform
can upload it, on any palm process, after any restart.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from gateway.errors import InputError, NotFound
from gateway.models import AttachmentKind, OutboundAttachment
from gateway.runtime import Runtime

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "attachment_from_file",
    "load_blob",
    "load_stashed",
    "make_attachment",
    "stash",
    "store_blob",
]

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
"""Telegram bots may upload at most 50 MB, but Matrix homeservers commonly cap at 20-50 MB."""
MAX_ATTACHMENTS = 10


@dataclass(frozen=True, slots=True)
class BlobRef:
    sha: str
    size: int


def _blob_key(rt: Runtime, sha: str) -> str:
    return rt.keys("blob", sha)


async def store_blob(rt: Runtime, data: bytes) -> BlobRef:
    sha = hashlib.sha256(data).hexdigest()
    await rt.redis_bytes.set(_blob_key(rt, sha), data, nx=True)
    return BlobRef(sha, len(data))


async def load_blob(rt: Runtime, sha: str) -> bytes:
    data = await rt.redis_bytes.get(_blob_key(rt, sha))
    if data is None:
        raise NotFound(
            f"attachment {sha[:12]} is missing from the store", zh=f"附件 {sha[:12]} 已不在存储里"
        )
    assert isinstance(data, bytes)  # the binary client
    return data


def _too_big(name: str, size: int) -> NoReturn:
    mb = MAX_ATTACHMENT_BYTES // (1024 * 1024)
    raise InputError(
        f"attachment {name} is {size / 1048576:.1f} MB; the limit is {mb} MB",
        zh=f"附件「{name}」有 {size / 1048576:.1f} MB，超过了 {mb} MB 的上限",
    )


def make_attachment(filename: str, data: bytes, mime: str | None = None) -> OutboundAttachment:
    """Check the size and guess the type; images go as photos, anything else as a file."""
    name = Path(filename).name or "attachment"
    if len(data) > MAX_ATTACHMENT_BYTES:
        _too_big(name, len(data))
    if not data:
        raise InputError(f"attachment {name} is empty", zh=f"附件「{name}」是空文件")
    mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
    kind = AttachmentKind.PHOTO if mime in {"image/jpeg", "image/png"} else AttachmentKind.FILE
    if mime.startswith("video/"):
        kind = AttachmentKind.VIDEO
    return OutboundAttachment(kind=kind, filename=name, mime=mime, data=data)


def attachment_from_file(path: str) -> OutboundAttachment:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:  # refuse before reading a huge file into memory
            _too_big(p.name, size)
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"attachment {path}: no such file", zh=f"附件 {path}：文件不存在"
        ) from None
    except IsADirectoryError:
        raise InputError(
            f"attachment {path}: is a directory", zh=f"附件 {path}：这是一个文件夹"
        ) from None
    except OSError as exc:
        raise InputError(
            f"attachment {path}: {exc.strerror}", zh=f"附件 {path}：无法读取（{exc.strerror}）"
        ) from None
    return make_attachment(p.name, data)


async def stash(rt: Runtime, attachments: Sequence[OutboundAttachment]) -> str:
    """The attachments stored as blobs, as JSON refs: for deliveries built later."""
    refs = []
    for a in attachments:
        ref = await store_blob(rt, a.data)
        refs.append({"kind": a.kind.value, "filename": a.filename, "mime": a.mime, "blob": ref.sha})
    return json.dumps(refs)


async def load_stashed(rt: Runtime, raw: str) -> list[OutboundAttachment]:
    """What ``stash`` stored, back as attachments."""
    out = []
    for a in json.loads(raw or "[]"):
        data = await load_blob(rt, a["blob"])
        out.append(OutboundAttachment(AttachmentKind(a["kind"]), a["filename"], a["mime"], data))
    return out
