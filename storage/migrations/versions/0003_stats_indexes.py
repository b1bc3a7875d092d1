"""indexes for statistics: a year of tickets counted per unit from the index alone (issue 4)

Both hold every column the statistics read, so the counting never visits the table's rows
(on SQLite always; on PostgreSQL as an index-only scan once the table is vacuumed):
- ix_tickets_stats_period leads with created_at: the city's figures for any period;
- ix_tickets_stats_unit leads with unit_code: one unit's figures, and the per-unit ranking
  read in unit order (SQLite then groups without sorting a million rows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["category", "status", "resolve_by", "resolved_at", "rating"]


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_stats_period", ["created_at", "unit_code", *COLUMNS], unique=False
        )
        batch_op.create_index(
            "ix_tickets_stats_unit", ["unit_code", "created_at", *COLUMNS], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_stats_unit")
        batch_op.drop_index("ix_tickets_stats_period")
