"""Alembic's environment: run the migrations on the connection ``storage.migrate`` hands over.

The service runs them itself (on start, and by ``python -m bot migrate``) through
``storage.migrate.upgrade``; there is no alembic.ini to keep in step with the settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations with `python -m bot migrate` (storage.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite can add columns but not alter or drop them: batch mode copies the table instead.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
