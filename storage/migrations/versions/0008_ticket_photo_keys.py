"""ticket_photos: found by media key, for the media sweep

The scheduler's media sweep (storage.media_sweep) removes photos nothing uses any more, and asks
which of the old files' keys a ticket still names: without the index, each batch of keys read
every ticket's photos.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_photos", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_photos_media_key", ["media_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_photos_media_key")
