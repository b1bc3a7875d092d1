"""Conversation state in the database, in the update's own session (so it commits with it)."""

from __future__ import annotations

import copy
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, utcnow

# An abandoned draft is forgotten after this long, rather than ambushing its author days later.
DRAFT_KEPT = timedelta(days=2)


class DbConversationState:
    def __init__(self, session: AsyncSession, channel: str, chat_id: str, user_id: str) -> None:
        self.session = session
        self.key = (channel, chat_id, user_id)

    async def _row(self) -> Conversation | None:
        row = await self.session.get(Conversation, self.key)
        if row is not None and row.updated_at < utcnow() - DRAFT_KEPT:
            await self.session.delete(row)
            await self.session.flush()
            return None
        return row

    async def get(self) -> tuple[str | None, dict[str, object]]:
        row = await self._row()
        if row is None:
            return None, {}
        return row.step, copy.deepcopy(row.data or {})

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        row = await self._row()
        fresh = copy.deepcopy(data)  # a new object, so the JSON column is seen as changed
        if row is None:
            channel, chat_id, user_id = self.key
            self.session.add(
                Conversation(
                    channel=channel, chat_id=chat_id, user_id=user_id, step=step, data=fresh
                )
            )
        else:
            row.step = step
            row.data = fresh
            row.updated_at = utcnow()
        await self.session.flush()

    async def clear(self) -> None:
        row = await self._row()
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()
