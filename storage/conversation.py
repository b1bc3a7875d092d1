"""Conversation state in the database, in the update's own session (so it commits with it).

Plain statements on the table, not ORM objects: an update reads its state once (it is kept
here after that) and writes it with one upsert, where the ORM's identity map and unit of work
cost more than the statements themselves on the bot's busiest path.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
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

    def _where(self) -> ColumnElement[bool]:
        channel, chat_id, user_id = self.key
        c = _TABLE.c
        return and_(c.channel == channel, c.chat_id == chat_id, c.user_id == user_id)

    async def get(self) -> tuple[str | None, dict[str, object]]:
        if self.known is None:
            c = _TABLE.c
            found = await self.session.execute(
                select(c.step, c.data, c.updated_at).where(self._where())
            )
            row = found.first()
            if row is None:
                self.known = _NOTHING
            elif row.updated_at < utcnow() - DRAFT_KEPT:
                await self.session.execute(delete(_TABLE).where(self._where()))
                self.known = _NOTHING
            else:
                self.known = (row.step, row.data or {})
        step, data = self.known
        return step, copy.deepcopy(data)  # the caller's changes are not the stored state

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        fresh = copy.deepcopy(data)
        channel, chat_id, user_id = self.key
        upsert = insert_for(self.session, _TABLE).values(
            channel=channel,
            chat_id=chat_id,
            user_id=user_id,
            step=step,
            data=fresh,
            updated_at=utcnow(),
        )
        new = upsert.excluded  # the row just offered: its draft is serialised once, not twice
        await self.session.execute(
            upsert.on_conflict_do_update(
                index_elements=[_TABLE.c.channel, _TABLE.c.chat_id, _TABLE.c.user_id],
                set_={"step": new.step, "data": new.data, "updated_at": new.updated_at},
            )
        )
        self.known = (step, fresh)

    async def clear(self) -> None:
        if self.known is not _NOTHING:
            await self.session.execute(delete(_TABLE).where(self._where()))
        self.known = _NOTHING
