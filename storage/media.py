"""Where photos are kept: a directory by default, behind a small interface (S3 later).

A photo no report, answer or unfinished draft uses any more (a draft given up, a resident who
asked to be forgotten before they sent their report) is removed by the scheduler's media sweep
(storage.media_sweep): the store says which files were not stored or stored again since a
moment (``unused_since``), and removes one unless it was stored again meanwhile (``discard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

# A key: the SHA-256 of the bytes in hex, and the file's suffix (storage.media_sweep finds keys
# in drafts and payloads by this shape).
KEY = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,8}")


class MediaStore(Protocol):
    async def put(self, data: bytes, suffix: str = ".jpg") -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def unused_since(self, moment: float) -> list[str]:
        """The keys not stored (nor stored again) since ``moment`` (seconds since the epoch)."""
        ...

    async def discard(self, key: str, unused_since: float) -> bool:
        """Remove the key's file unless it was stored again since ``unused_since``: False
        then, or when it was not there."""
        ...


class DirectoryMediaStore:
    """Content-addressed files: the key is the SHA-256 of the bytes; a retry stores nothing new."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not key.replace(".", "").isalnum():
            raise ValueError(f"bad media key {key!r}")
        return self.root / key[:2] / key

    async def put(self, data: bytes, suffix: str = ".jpg") -> str:
        key = hashlib.sha256(data).hexdigest() + suffix
        await asyncio.to_thread(self._write, self._path(key), data)
        return key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            os.utime(path)  # there already: stored again now, so not swept as unused
            return
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of its own: two residents sending the same picture at the same
        # moment write the same key, and must not move each other's half-written file.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def unused_since(self, moment: float) -> list[str]:
        return await asyncio.to_thread(self._unused_since, moment)

    def _unused_since(self, moment: float) -> list[str]:
        """The keys whose files were last written before ``moment``. A temporary file that old
        was left by a crash mid-write: removed on the way; a file a crash left moved aside by
        ``discard`` goes back (it is looked at again)."""
        keys: list[str] = []
        if not self.root.is_dir():
            return keys
        with os.scandir(self.root) as folders:
            for folder in folders:
                if len(folder.name) != 2 or not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as files:
                    for file in files:
                        try:
                            written = file.stat(follow_symlinks=False).st_mtime
                        except FileNotFoundError:
                            continue
                        if written >= moment:
                            continue
                        if file.name.startswith(".") and file.name.endswith(".tmp"):
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(file.path)
                        elif file.name.startswith(".") and file.name.endswith(".gone"):
                            key = file.name[1 : -len(".gone")].rsplit(".", 1)[0]
                            if _put_back(file.path, os.path.join(folder.path, key)):
                                keys.append(key)
                        elif KEY.fullmatch(file.name) and file.name[:2] == folder.name:
                            keys.append(file.name)
        return keys

    async def discard(self, key: str, unused_since: float) -> bool:
        return await asyncio.to_thread(self._discard, self._path(key), unused_since)

    @staticmethod
    def _discard(path: Path, moment: float) -> bool:
        # Moved aside first, then looked at: a put() that stored it again before the move left
        # a newer time on it (it goes back), and one after the move finds no file and writes
        # the photo anew. Never a key handed out whose file then goes.
        aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}.gone")
        try:
            if os.stat(path).st_mtime >= moment:
                return False
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        if os.stat(aside).st_mtime >= moment:
            os.replace(aside, path)
            return False
        os.unlink(aside)
        return True


def _put_back(aside: str, path: str) -> bool:
    """Move a file ``discard`` left aside back to its key; True if it went back. A file stored
    again at the key meanwhile is the newer: the one aside goes."""
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    except FileNotFoundError:
        return False
    else:
        os.unlink(aside)
        return True
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside)
    return False
