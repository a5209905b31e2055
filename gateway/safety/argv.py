"""Command-line arguments that are not valid UTF-8.

Python decodes argv with ``surrogateescape``: a byte like ``\\xff`` becomes the lone
surrogate ``\\udcff``, which every ``str.encode()`` later refuses (a Redis key, a JSON
body, the terminal), deep inside a command. Refusing it at the entry point gives one
clear line instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.safety.inert import visible

__all__ = ["undecodable"]


def undecodable(argv: Sequence[str]) -> str | None:
    """A one-line message naming the first argument that is not valid UTF-8, else None."""
    for n, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {n} is not valid UTF-8: {visible(arg, one_line=True)}"
    return None
