"""The media sweep: photos nothing uses any more are removed from the media store.

A photo is stored as soon as it arrives, before the report it belongs to is sent: a draft given
up (kept :data:`storage.conversation.DRAFT_KEPT`), a resident who asked to be forgotten before
sending theirs, left its photos behind for ever, a resident's pictures of their street kept by
no rule. The scheduler sweeps once a day (bot.scheduler): a file not stored, nor stored again,
for :data:`UNUSED_KEPT`, that no ticket, live draft, queued message or pending prompt names, is
removed. Stored again means put() again (storage.media): a draft that takes an old picture
again makes it new, and ``discard`` leaves a file stored again since it was listed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import outbox
from storage.conversation import DRAFT_KEPT
from storage.media import KEY, MediaStore
from storage.models import Conversation, MessageLink, OutboxMessage, TicketPhoto

# Well past a draft's life (DRAFT_KEPT): a photo this long unused belongs to nothing alive.
UNUSED_KEPT = timedelta(days=7)
BATCH = 500  # keys looked up in one query

# The keys that drafts kept outside the database name (Redis: bot.redis_state.draft_media).
SharedDrafts = Callable[[], Awaitable[Iterable[str]]]


async def sweep_media(
    sessions: async_sessionmaker[AsyncSession],
    media: MediaStore,
    now: datetime,
    shared_drafts: SharedDrafts | None = None,
) -> int:
    """Remove the photos unused for UNUSED_KEPT that nothing names; how many went."""
    moment = (now - UNUSED_KEPT).timestamp()
    candidates = await media.unused_since(moment)
    if not candidates:
        return 0
    used = await named(sessions, candidates, drafts_since=now - DRAFT_KEPT)
    if shared_drafts is not None:
        used.update(await shared_drafts())
    removed = 0
    for key in candidates:
        if key not in used and await media.discard(key, unused_since=moment):
            removed += 1
    return removed


async def named(
    sessions: async_sessionmaker[AsyncSession], keys: Sequence[str], *, drafts_since: datetime
) -> set[str]:
    """Which of ``keys`` the database names: a ticket's photo, a draft still alive (changed
    since ``drafts_since``), a message still to be sent, a prompt still waiting (the photos
    of a resolution not yet made)."""
    wanted = set(keys)
    used: set[str] = set()
    for start in range(0, len(keys), BATCH):
        async with sessions() as session:
            batch = keys[start : start + BATCH]
            found = select(TicketPhoto.media_key).where(TicketPhoto.media_key.in_(batch))
            used.update((await session.scalars(found)).all())
    async with sessions() as session:
        drafts = select(Conversation.data).where(Conversation.updated_at >= drafts_since)
        waiting = select(OutboxMessage.payload).where(OutboxMessage.status == outbox.PENDING)
        # A prompt answered keeps nothing: its photos went to the prompt asking next, or to
        # the ticket with the change they proved.
        prompts = select(MessageLink.extra).where(
            MessageLink.purpose.like("prompt-%"),
            MessageLink.purpose != "prompt-done",
            MessageLink.extra.is_not(None),
        )
        for query in (drafts, waiting, prompts):
            for value in (await session.scalars(query)).all():
                used.update(keys_in(json.dumps(value)) & wanted)
    return used


def keys_in(text: str) -> set[str]:
    """The media keys a text (a draft's JSON, a payload's) names."""
    return set(KEY.findall(text))
