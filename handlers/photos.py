"""Taking a photo someone sent: size check, download, re-encoding (off the event loop), storing."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from domain.photos import MAX_INPUT_BYTES, PhotoRejected, clean_photo
from handlers.context import Ctx


@dataclass(frozen=True)
class StoredPhoto:
    key: str
    width: int
    height: int


async def take_photo(ctx: Ctx) -> StoredPhoto:
    """The event's photo, cleaned of metadata and stored; PhotoRejected says why not."""
    ev = ctx.event
    if ev.photo_ref is None:
        raise PhotoRejected("unreadable")
    if ev.file_size is not None and ev.file_size > MAX_INPUT_BYTES:
        raise PhotoRejected("too-big")  # refused before downloading a byte of it
    raw = await ctx.channel.fetch_photo(ev.photo_ref)
    # Only the messenger's own re-encoding of a photo may be kept as it stands.
    clean = functools.partial(clean_photo, made_by_messenger=not ev.photo_as_file)
    photo = await asyncio.to_thread(clean, raw)  # decoding 12 MP takes a while
    key = await ctx.services.media.put(photo.data)
    return StoredPhoto(key, photo.width, photo.height)
