"""Alembic migrations: the one way the schema is created and changed (``python -m bot migrate``)."""
