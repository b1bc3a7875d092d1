"""blocked_tickets: a forgotten resident's block is lifted by one of their tickets

A blocked resident who used /forget_me stayed blocked for good: the block was kept under a
keyed hash of their account (blocked_identities), their tickets were anonymised, and they cannot
file a new one, so no ticket number named them to /unblock. The tickets of such a resident are
now tied to the block kept for them (its keyed hash, never the account), until it is lifted.

No rows move: the tickets of those forgotten before this have no trace of whose they were, and
their blocks cannot be tied back to them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocked_tickets",
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["identity"], ["blocked_identities.identity"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    with op.batch_alter_table("blocked_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blocked_tickets_identity"), ["identity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blocked_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocked_tickets_identity"))
    op.drop_table("blocked_tickets")
