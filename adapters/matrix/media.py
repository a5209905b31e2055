"""Residents' files in encrypted rooms: the key travels with the ticket's reference.

In an encrypted room a file is encrypted too (AES-CTR, spec "Sending encrypted
attachments"): the event's ``file`` holds the mxc URL, the key, the IV and the
SHA-256 of the ciphertext. A ticket keeps one opaque reference per attachment, so
the key goes in that reference's fragment, ``mxc://server/id#k=…&iv=…&sha256=…``.
This discloses nothing new: the ticket already holds the message's decrypted text,
in the same Redis. ``open_file`` checks the hash, then decrypts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from gateway.errors import NotPossible


@dataclass(frozen=True, slots=True)
class FileKey:
    """What decrypts one file: the JWK ``k``, the IV and the ciphertext's SHA-256."""

    k: str
    iv: str
    sha256: str


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def file_ref(file: Mapping[str, Any]) -> str | None:
    """The reference of an ``EncryptedFile`` object; ``None`` when it cannot be
    decrypted (no URL, key, IV or hash, or an algorithm other than AES-CTR-256)."""
    key = file.get("key")
    hashes = file.get("hashes")
    if not isinstance(key, Mapping) or not isinstance(hashes, Mapping):
        return None
    url, k = _str(file.get("url")), _str(key.get("k"))
    iv, sha = _str(file.get("iv")), _str(hashes.get("sha256"))
    if url is None or "#" in url or k is None or iv is None or sha is None:
        return None
    if key.get("alg", "A256CTR") != "A256CTR":
        return None
    return f"{url}#{urlencode({'k': k, 'iv': iv, 'sha256': sha})}"


def split_ref(ref: str) -> tuple[str, FileKey | None]:
    """The mxc URI, and the key when the file is encrypted."""
    url, sep, fragment = ref.partition("#")
    if not sep:
        return url, None
    fields = parse_qs(fragment)
    try:
        (k,), (iv,), (sha,) = fields["k"], fields["iv"], fields["sha256"]
    except (KeyError, ValueError):
        raise NotPossible("the attachment's key is unreadable") from None
    return url, FileKey(k, iv, sha)


def open_file(data: bytes, key: FileKey | None) -> bytes:
    """The plain bytes; an encrypted file whose hash does not match is refused."""
    if key is None:
        return data
    try:
        return bytes(decrypt_attachment(data, key.k, key.sha256, key.iv))
    except EncryptionError as exc:
        raise NotPossible(f"the encrypted attachment does not check out: {exc}") from None


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(data: bytes) -> str | None:
    """An image's MIME type from its first bytes: an encrypted file is downloaded as
    ``application/octet-stream``, its real type being inside the encrypted event."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
