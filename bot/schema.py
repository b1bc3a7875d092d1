"""``python -m bot migrate``: bring the configured database's schema up to date, and say so."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade


async def migrate(settings: Settings) -> int:
    engine = make_engine(settings.db_url)
    where = make_url(settings.db_url).render_as_string(hide_password=True)
    try:
        outcome = await upgrade(engine)
    finally:
        await engine.dispose()
    if outcome.changed:
        print(f"{where}: schema upgraded from {outcome.before or 'nothing'} to {outcome.after}.")
    else:
        print(f"{where}: schema is up to date ({outcome.after}).")
    return 0
