"""Files a bot can download from the fake Bot API: ``getFile`` and the file URL.

Bot API documentation: ``getFile(file_id)`` returns a ``File`` ``{file_id,
file_unique_id, file_size?, file_path?}``; the bytes are then at
``https://api.telegram.org/file/bot<token>/<file_path>``; bots can download files of
up to 20 MB; an unknown id is "Bad Request: invalid file_id".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_DOWNLOAD = 20 * 1024 * 1024


class FileError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class Files:
    """file_id -> bytes, for what residents "sent" (see ``FakeTelegram.photo``)."""

    data: dict[str, bytes] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    """file_id -> file_path (Telegram's, e.g. ``photos/file_2.jpg``)."""
    downloads: int = 0

    def put(self, file_id: str, data: bytes, path: str | None = None) -> None:
        self.data[file_id] = data
        self.paths[file_id] = path or f"files/{file_id}"

    def get_file(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file_id") or "")
        if file_id not in self.data:
            raise FileError("Bad Request: invalid file_id")
        size = len(self.data[file_id])
        out: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u-{file_id}"}
        out["file_size"] = size
        if size > MAX_DOWNLOAD:
            raise FileError("Bad Request: file is too big")
        out["file_path"] = self.paths[file_id]
        return out

    def download(self, path: str) -> bytes | None:
        self.downloads += 1
        file_id = next((f for f, p in self.paths.items() if p == path), None)
        return None if file_id is None else self.data.get(file_id)
