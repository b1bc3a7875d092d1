"""forgotten_reports: a forgotten resident's reports still count towards the hourly limit

/forget_me deleted the resident and with them what the hourly limit on reports counts (their
tickets, by reporter): someone could report up to the limit, forget themselves, and report
again at once. The times of the last hour's reports are now kept under a keyed hash of the
account (as a block is, in blocked_identities) until the hour has passed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("forgotten_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forgotten_reports_identity"), ["identity"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("forgotten_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forgotten_reports_identity"))
    op.drop_table("forgotten_reports")
