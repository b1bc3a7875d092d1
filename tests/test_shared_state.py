"""Conversation state in Redis (the PostgreSQL + Redis deployment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.app import App, build_app
from bot.settings import Settings
from tests.backends import prepare

STAGING_BOT = "222222222:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
CITY_BOT = "333333333:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
RESIDENT = 6_000_000_001  # a person who writes to both bots


def key(app: App) -> StorageKey:
    return StorageKey(bot_id=app.bot.id, chat_id=RESIDENT, user_id=RESIDENT)


async def test_two_bots_on_one_redis_keep_their_own_conversations(tmp_path: Path) -> None:
    """A staging bot and the city's bot (or two cities') may share one Redis: a resident who
    writes to both must not find the other bot's half-written report in the one he opens."""
    backend = await prepare(tmp_path)
    if backend.redis_url is None:
        pytest.skip("the SQLite run has no Redis: the PostgreSQL + Redis run checks this one")
    settings = Settings(
        _env_file=None,
        bot_token=None,
        telegram_api_url="http://127.0.0.1:9",  # neither bot is asked anything here
        data_dir=tmp_path / "data",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
    )
    staging = await build_app(settings, token=STAGING_BOT, schedule=False)
    city = await build_app(settings, token=CITY_BOT, schedule=False)
    try:
        await staging.dispatcher.storage.set_state(key(staging), "r:text")
        await staging.dispatcher.storage.set_data(key(staging), {"key": "draft"})
        assert await city.dispatcher.storage.get_state(key(city)) is None
        assert await city.dispatcher.storage.get_data(key(city)) == {}
        assert await staging.dispatcher.storage.get_state(key(staging)) == "r:text"
    finally:
        await staging.close()
        await city.close()
