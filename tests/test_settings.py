import logging
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.__main__ import main
from bot.scheduler import LOOK_AHEAD
from bot.settings import REMIND_AT_MOST_HOURS, Settings
from domain.deadlines import HANOI

REAL_LOOKING = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
SECRET = "Zq3v-8Kp_Lw2Xy7Rt5Nm9Bc4Hd6Jf1Gs"  # as secrets.token_urlsafe makes them


def test_an_env_file_copied_from_the_example_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings()
    assert settings.bot_token is None
    assert settings.admin_ids == frozenset()
    assert settings.supervisor_chat_id is None
    assert settings.db_url.startswith("sqlite+aiosqlite:///")


def test_admin_ids_are_read_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "111, 222,333")
    assert Settings(_env_file=None).admin_ids == frozenset({111, 222, 333})


@pytest.mark.parametrize("token", ["changeme", "your-token", "123:short", "not a token"])
def test_placeholder_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, bot_token=token)
    assert "BotFather" in str(refused.value)
    assert token not in str(refused.value)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValidationError, match="DEFAULT_LANGUAGE"):
        Settings(_env_file=None, default_language="fr")


def test_bad_configuration_stops_the_start_with_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADMIN_IDS", "alice,bob")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "ADMIN_IDS" in err and "Telegram user ids" in err


def test_a_setting_refused_for_another_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """WEBHOOK_URL without WEBHOOK_SECRET (and the other checks across settings) print
    ``  : Value error, WEBHOOK_URL is set, ...``: the column where every other error names its
    setting is empty, and "Value error" is pydantic's word, not the operator's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert not re.search(r"^  :", err, re.MULTILINE), err
    assert "WEBHOOK_SECRET" in err and "Value error" not in err, err
    monkeypatch.delenv("WEBHOOK_URL")
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "0")  # pydantic's own words, named as before
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "  SEND_RATE_PER_SECOND: Input should be greater than or equal to 1" in err, err


def test_a_real_looking_token_is_accepted_and_kept_secret() -> None:
    settings = Settings(_env_file=None, bot_token=REAL_LOOKING)
    assert REAL_LOOKING not in repr(settings)
    logging.getLogger("test").info("%s", settings)


@pytest.mark.parametrize(
    "secret", ["changeme_changeme_changeme", "x" * 24, "my-webhook-secret-example-123", "ab" * 20]
)
def test_placeholder_webhook_secrets_are_refused_without_echoing_them(secret: str) -> None:
    """Anyone who guesses it can post forged updates (any resident, any official's button)."""
    with pytest.raises(ValidationError, match="placeholder") as refused:
        Settings(_env_file=None, webhook_url="https://x.org/hook", webhook_secret=secret)
    assert secret not in str(refused.value)


def test_a_generated_webhook_secret_is_accepted() -> None:
    settings = Settings(_env_file=None, webhook_url="https://x.org/hook", webhook_secret=SECRET)
    assert settings.webhook_secret is not None


def test_a_webhook_secret_without_a_webhook_url_is_refused() -> None:
    """WEBHOOK_SECRET set and WEBHOOK_URL left out (or misspelt: unknown names are ignored):
    the worker starts polling instead, and as it starts it deletes the webhook the other
    workers serve (prepare_polling's deleteWebhook): they receive nothing more, and no error
    is said. Half the webhook's settings should be refused like the other half is."""
    with pytest.raises(ValidationError, match="WEBHOOK_URL"):
        Settings(_env_file=None, webhook_secret=SECRET)


def test_a_webhook_url_on_a_port_telegram_does_not_call_is_refused() -> None:
    """Telegram sends webhooks only to ports 443, 80, 88 and 8443
    (https://core.telegram.org/bots/api#setwebhook). WEBHOOK_URL=https://bot.example.org:9443/
    is accepted here; the start then says "running the real bot ... webhook at ..." and ends
    in a traceback of setWebhook's 400 (TelegramBadRequest is not one patiently() retries nor
    one main() explains). Like its scheme, the URL's port can be checked before the start."""
    for url in ("https://bot.example.org:9443/hook", "https://bot.example.org:x/hook"):
        with pytest.raises(ValidationError, match="8443"):
            Settings(_env_file=None, webhook_url=url, webhook_secret=SECRET)
    for url in ("https://bot.example.org/hook", "https://bot.example.org:8443/hook"):
        assert Settings(_env_file=None, webhook_url=url, webhook_secret=SECRET).webhook_url == url


@pytest.mark.parametrize("url", ["http://api.telegram.org", "HTTP://API.TELEGRAM.ORG:80/"])
def test_telegram_over_plain_http_is_refused(url: str) -> None:
    """Every Bot API call carries the token in its path."""
    with pytest.raises(ValidationError, match=r"https://api\.telegram\.org"):
        Settings(_env_file=None, telegram_api_url=url)


def test_a_bot_api_server_of_ones_own_may_be_plain_http() -> None:
    """A local Bot API server (telegram-bot-api) on a private network, or the emulator."""
    for url in ("http://127.0.0.1:8081", "http://telegram-bot-api:8081"):
        assert Settings(_env_file=None, telegram_api_url=url).telegram_api_url == url


def test_a_digest_time_with_an_offset_is_refused() -> None:
    """08:00+07:00 made an aware time that the scheduler could not compare with Hanoi's clock
    time: every round failed, and no digest went out."""
    with pytest.raises(ValidationError, match="DIGEST_TIME is Hanoi time"):
        Settings(_env_file=None, digest_time="08:00+07:00")
    assert Settings(_env_file=None, digest_time="07:30").digest_time == time(7, 30)


def test_a_reminder_further_ahead_than_the_scheduler_looks_is_refused() -> None:
    """The scheduler looks 16 calendar days ahead for deadlines: a reminder set further ahead
    in working hours (around Tết) would come late. What may be set fits, every day of the
    years the holidays are known for."""
    with pytest.raises(ValidationError, match="less than or equal to 24"):
        Settings(_env_file=None, resolve_remind_hours=100)
    calendar = Settings(_env_file=None).work_calendar()
    deadline = datetime(2025, 1, 1, 10, tzinfo=HANOI)
    while deadline.year < 2028:
        ahead = calendar.working_hours_between(deadline - LOOK_AHEAD, deadline)
        assert ahead >= REMIND_AT_MOST_HOURS, deadline
        deadline += timedelta(days=1)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("database_url", "postgresql://phananh:pw@db:5432/phananh", "postgresql+asyncpg://"),
        ("database_url", "postgres://phananh:pw@db:5432/phananh", "postgresql+asyncpg://"),
        ("database_url", "sqlite:///var/phananh.sqlite3", "sqlite+aiosqlite://"),
        ("database_url", "mysql+aiomysql://u:p@db/phananh", "PostgreSQL"),
        ("database_url", "not a url", "not a database URL"),
        ("redis_url", "localhost:6379", "redis://host:6379/0"),
    ],
)
def test_a_url_the_service_cannot_use_is_refused_at_start(name: str, value: str, said: str) -> None:
    """Accepted here, each failed the start with a traceback (no module psycopg, no such
    plugin, a Redis URL without its scheme)."""
    values: dict[str, Any] = {name: value}
    with pytest.raises(ValidationError, match=name.upper()) as refused:
        Settings(_env_file=None, **values)
    assert said in str(refused.value)


def test_a_database_url_with_an_option_asyncpg_does_not_take_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Managed PostgreSQL hands out URLs ending ``?sslmode=require``: libpq's name, which
    SQLAlchemy passes to asyncpg.connect() as it is. The settings accepted it, and the start
    (every command) ended in a traceback: "connect() got an unexpected keyword argument
    'sslmode'", exit code 1. asyncpg's own option is ssl=require."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:pw@127.0.0.1:1/db?sslmode=require")
    try:
        code = main(["migrate"])
    except TypeError as error:  # what the operator got: a traceback
        pytest.fail(f"python -m bot migrate ended in a traceback: {error!r}")
    err = capsys.readouterr().err
    assert code == 2
    assert "DATABASE_URL" in err and "ssl=require" in err and "pw" not in err, err
    ssl = "postgresql+asyncpg://u@127.0.0.1:5432/db?ssl=require&command_timeout=60"
    assert Settings(_env_file=None, database_url=ssl).database_url == ssl


@pytest.mark.parametrize("port", ["99999", "0", "5432x"])
def test_a_database_url_whose_port_is_not_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], port: str
) -> None:
    """A port out of range passed the settings and ended the start in asyncpg's OverflowError
    traceback; one that is not a number was refused as "invalid literal for int() with base
    10", not naming the port. Now both are one line naming it, exit code 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://u:pw@127.0.0.1:{port}/db")
    code = main(["migrate"])
    err = capsys.readouterr().err
    assert code == 2
    assert "DATABASE_URL" in err and "port" in err and "pw" not in err, err
    assert "invalid literal" not in err and "Traceback" not in err, err


def test_the_urls_the_service_runs_on_are_accepted() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql+asyncpg://root@127.0.0.1:5432/test",
        redis_url="redis://127.0.0.1:6379/0",
    )
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert Settings(_env_file=None, database_url="sqlite+aiosqlite:///x.db").database_url
