"""outbox: a chat's waiting messages found in order, for the claim that keeps that order

A message told to wait (a 429's retry_after, a group's full send window) now holds back its
chat's later messages until it has gone (storage/outbox.claim): a round had claimed and sent
them first. Made for a first version of that claim, which asked for each due message whether
an earlier one of its chat waited; the claim as it stands reads by ix_outbox_due. The index
serves claim_chat (an update delivering its own chat's messages): that chat's waiting messages
in order, without scanning every message waiting for any chat.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_chat_waiting", ["status", "chat_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat_waiting")
