"""Where photos are kept: a directory by default, behind a small interface (S3 later)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Protocol


class MediaStore(Protocol):
    async def put(self, data: bytes, suffix: str = ".jpg") -> str: ...

    async def get(self, key: str) -> bytes: ...


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
        if path.exists():
            return
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
