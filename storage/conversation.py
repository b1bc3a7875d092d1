"""Conversation state in the database, in the update's own session (so it commits with it).

Plain statements on the table, not ORM objects: an update reads its state once (it is kept
here after that) and writes it with one upsert, where the ORM's identity map and unit of work
cost more than the statements themselves on the bot's busiest path.
"""

from __future__ import annotations

import copy
import functools
from datetime import timedelta
from typing import cast

from sqlalchemy import Executable, Table, and_, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of, insert_in
from storage.models import Conversation, utcnow

# An abandoned draft is forgotten after this long, rather than ambushing its author days later.
DRAFT_KEPT = timedelta(days=2)

_TABLE = cast(Table, Conversation.__table__)
_NOTHING: tuple[str | None, dict[str, object]] = (None, {})


class DbConversationState:
    def __init__(self, session: AsyncSession, channel: str, chat_id: str, user_id: str) -> None:
        self.session = session
        self.key = (channel, chat_id, user_id)
        # The state as this update last read or wrote it; None until it is read.
        self.known: tuple[str | None, dict[str, object]] | None = None

    def _key(self) -> dict[str, str]:
        channel, chat_id, user_id = self.key
        return {"channel": channel, "chat_id": chat_id, "user_id": user_id}

    async def get(self) -> tuple[str | None, dict[str, object]]:
        if self.known is None:
            row = (await self.session.execute(_READ, self._key())).first()
            if row is None:
                self.known = _NOTHING
            elif row.updated_at < utcnow() - DRAFT_KEPT:
                await self.session.execute(_DELETE, self._key())
                self.known = _NOTHING
            else:
                self.known = (row.step, row.data or {})
        step, data = self.known
        return step, copy.deepcopy(data)  # the caller's changes are not the stored state

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        fresh = copy.deepcopy(data)
        values = {**self._key(), "step": step, "data": fresh, "updated_at": utcnow()}
        await self.session.execute(_upsert(dialect_of(self.session)), values)
        self.known = (step, fresh)

    async def clear(self) -> None:
        if self.known is not _NOTHING:
            await self.session.execute(_DELETE, self._key())
        self.known = _NOTHING


# Built once, their values bound at each execution: a statement built anew is constructed and
# its cache key computed on every call, on the path of nearly every update.
_WHERE = and_(
    _TABLE.c.channel == bindparam("channel"),
    _TABLE.c.chat_id == bindparam("chat_id"),
    _TABLE.c.user_id == bindparam("user_id"),
)
_READ = select(_TABLE.c.step, _TABLE.c.data, _TABLE.c.updated_at).where(_WHERE)
_DELETE = delete(_TABLE).where(_WHERE)


@functools.cache
def _upsert(dialect: str) -> Executable:
    c = _TABLE.c
    names = ("channel", "chat_id", "user_id", "step", "data", "updated_at")
    upsert = insert_in(dialect, _TABLE).values({name: bindparam(name) for name in names})
    new = upsert.excluded  # the row just offered: its draft is serialised once, not twice
    return upsert.on_conflict_do_update(
        index_elements=[c.channel, c.chat_id, c.user_id],
        set_={"step": new.step, "data": new.data, "updated_at": new.updated_at},
    )
