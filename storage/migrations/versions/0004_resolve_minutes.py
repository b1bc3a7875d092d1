"""statistics without timestamp arithmetic: tickets.resolve_minutes and indexes that group in order

- ``resolve_minutes``: minutes from ``created_at`` to ``resolved_at`` rounded to the nearest
  minute, set when a ticket is resolved and cleared when it is reopened (storage/repo.py
  change_status); NULL while not resolved. The percentiles of the time to resolve then count
  an integer per row instead of parsing two timestamps (SQLite keeps them as text) or sorting
  a year of intervals (PostgreSQL). Existing rows are filled in here.
- ``ix_tickets_stats_unit`` (replacing 0003's) leads with unit, status, category and rating: a
  year's per-unit figures are one GROUP BY read in the index's order (SQLite has no hash
  aggregation: any other order sorts a million rows), a few aggregates per row.
- ``ix_tickets_stats_period`` (replacing 0003's) leads with ``created_at``: short periods, and
  one unit's figures, read only their own range.
- ``ix_tickets_stats_resolve``: the resolved tickets in order of ``resolve_minutes``: the
  city's histogram of the time to resolve, grouped as it is read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 04:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COLUMNS = ["category", "status", "resolve_by", "resolved_at", "rating"]
UNIT = [
    "unit_code",
    "status",
    "category",
    "rating",
    "created_at",
    "resolve_by",
    "resolved_at",
    "resolve_minutes",
]
PERIOD = [
    "created_at",
    "unit_code",
    "status",
    "category",
    "rating",
    "resolve_by",
    "resolved_at",
    "resolve_minutes",
]
RESOLVE = ["resolve_minutes", "created_at", "status", "unit_code"]
RESOLVED_ONLY = sa.text("resolve_minutes IS NOT NULL")

# The nearest minute, half a minute up (durations are not negative, so SQLite's CAST, which
# truncates, is floor): the rounding of storage.models.minutes_between, and of the histogram
# storage/stats.py computed before.
BACKFILL = {
    "postgresql": (
        "UPDATE tickets SET resolve_minutes = "
        "floor(extract(epoch FROM resolved_at - created_at) / 60 + 0.5)::integer "
        "WHERE resolved_at IS NOT NULL"
    ),
    "sqlite": (
        "UPDATE tickets SET resolve_minutes = "
        "CAST((julianday(resolved_at) - julianday(created_at)) * 1440 + 0.5 AS INTEGER) "
        "WHERE resolved_at IS NOT NULL"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolve_minutes", sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL.get(dialect, BACKFILL["postgresql"]))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_stats_unit")
        batch_op.drop_index("ix_tickets_stats_period")
        batch_op.create_index("ix_tickets_stats_unit", UNIT, unique=False)
        batch_op.create_index("ix_tickets_stats_period", PERIOD, unique=False)
        batch_op.create_index(
            "ix_tickets_stats_resolve",
            RESOLVE,
            unique=False,
            sqlite_where=RESOLVED_ONLY,
            postgresql_where=RESOLVED_ONLY,
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_stats_resolve")
        batch_op.drop_index("ix_tickets_stats_period")
        batch_op.drop_index("ix_tickets_stats_unit")
        batch_op.create_index(
            "ix_tickets_stats_period", ["created_at", "unit_code", *OLD_COLUMNS], unique=False
        )
        batch_op.create_index(
            "ix_tickets_stats_unit", ["unit_code", "created_at", *OLD_COLUMNS], unique=False
        )
        batch_op.drop_column("resolve_minutes")
