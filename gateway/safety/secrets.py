"""Secrets inside URLs: take them out, so the rest can be shown and logged.

``redis://user:PW@host:6379/0``, ``redis://:PW@host`` and ``…?password=PW`` all carry
a password that redis-py accepts; palm keeps it apart (a ``SecretStr``) and passes it
to the client separately, so ``redis.url`` never holds it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

__all__ = ["split_password"]


def split_password(url: str) -> tuple[str, str | None]:
    """``(url without its password, the password or None)``."""
    parts = urlsplit(url)
    password: str | None = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, secret = userinfo.partition(":")
        if sep:
            password = unquote(secret)
            netloc = f"{user}@{host}" if user else host
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k != "password"]
    if len(kept) != len(query):
        password = password or next(v for k, v in query if k == "password")
    if password is None:
        return url, None
    # Built by hand: urlunsplit drops the "//" of unix:///path when the netloc is empty.
    query_text = urlencode(kept)
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
    rebuilt += f"?{query_text}" if query_text else ""
    rebuilt += f"#{parts.fragment}" if parts.fragment else ""
    return rebuilt, password
