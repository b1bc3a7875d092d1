"""chat_bindings: a unit has one chat

A /bind in a second group left the unit bound to both: its cards went to the newer one, and
the older one was drawn as moved there, yet its members could still act on the unit's tickets
(only the chat bound to a ticket's unit may, says DESIGN.md). A unit has one chat; a /bind
elsewhere moves it (handlers.official). A unit bound to several chats before keeps the one its
cards went to, the latest bound (as Repository.unit_chat chose); the others are unbound.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

# A binding of a unit that has a later one (the same moment: a higher id) in the same channel.
_SUPERSEDED = """
    SELECT older.id, older.chat_id, older.unit_code
    FROM chat_bindings AS older
    WHERE EXISTS (
        SELECT 1 FROM chat_bindings AS newer
        WHERE newer.channel = older.channel
          AND newer.unit_code = older.unit_code
          AND (newer.bound_at > older.bound_at
               OR (newer.bound_at = older.bound_at AND newer.id > older.id))
    )
"""


def upgrade() -> None:
    bind = op.get_bind()
    superseded = bind.execute(sa.text(_SUPERSEDED)).all()
    for row_id, chat_id, unit_code in superseded:
        log.warning(
            "unit %s had several chats: chat %s unbound (row %s)", unit_code, chat_id, row_id
        )
    if superseded:
        bindings = sa.table("chat_bindings", sa.column("id"))
        bind.execute(sa.delete(bindings).where(bindings.c.id.in_([r[0] for r in superseded])))
    with op.batch_alter_table("chat_bindings", schema=None) as batch_op:
        batch_op.create_index("uq_chat_bindings_unit", ["channel", "unit_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("chat_bindings", schema=None) as batch_op:
        batch_op.drop_index("uq_chat_bindings_unit")
