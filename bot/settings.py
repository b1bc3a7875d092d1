"""Typed settings from the environment and ``.env``; built once in ``main()`` and passed down."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from domain.deadlines import SHIFTS, WorkCalendar, parse_shifts
from locales import LANGUAGES

TELEGRAM_API_URL = "https://api.telegram.org"
_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_PLACEHOLDERS = {"changeme", "change-me", "your-token", "your_token_here", "token", "xxx"}
# Words of a secret copied from an example instead of generated.
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "changethis", "placeholder", "example")


REMIND_AT_MOST_HOURS = 24.0  # working hours


# The database drivers the service runs on (storage.db): aiosqlite, asyncpg.
_DATABASE_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})
# The ports Telegram sends webhooks to (https://core.telegram.org/bots/api#setwebhook).
_WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})


def _asyncpg_options() -> set[str]:
    """What a postgresql+asyncpg URL's query may name: asyncpg.connect()'s keywords, and the
    one SQLAlchemy's dialect takes for itself (its prepared statements' cache)."""
    import inspect

    import asyncpg  # only for a PostgreSQL URL: the SQLite service never loads it

    return set(inspect.signature(asyncpg.connect).parameters) | {"prepared_statement_cache_size"}


class Settings(BaseSettings):
    # hide_input_in_errors: a mistyped token must not be echoed into logs by a validation error.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    bot_token: SecretStr | None = Field(
        default=None, description="Telegram bot token from @BotFather; empty runs the playground"
    )
    telegram_api_url: str = Field(
        default=TELEGRAM_API_URL, description="Base URL of the Bot API server"
    )
    data_dir: Path = Field(default=Path("var"), description="Database file and stored photos")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default SQLite in DATA_DIR"
    )
    redis_url: str | None = Field(
        default=None, description="redis://... to keep conversation state in Redis"
    )
    webhook_url: str | None = Field(
        default=None, description="Public https URL for Telegram's webhook; empty = polling"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token"
    )
    webhook_host: str = Field(default="127.0.0.1", description="Address the webhook listens on")
    webhook_port: int = Field(default=8443, ge=1, le=65535, description="Webhook server port")
    metrics_host: str = Field(
        default="127.0.0.1", description="Address of /healthz and /metrics in polling mode"
    )
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Port of /healthz and /metrics; 0 = off"
    )
    send_rate_per_second: int = Field(
        default=30, ge=1, description="Messages a second the bot sends at most (Telegram: 30)"
    )
    group_rate_per_minute: int = Field(
        default=20, ge=1, description="Messages a minute to one group at most (Telegram: 20)"
    )
    summary_threshold: int = Field(
        default=6, ge=2, description="Cards waiting for one group before one summary replaces them"
    )
    report_limit_per_hour: int = Field(
        default=5, ge=1, description="New reports one resident may file in an hour"
    )
    duplicate_radius_m: float = Field(
        default=50,
        ge=0,
        description=(
            "Metres around a new report's pin within which an open report of the same category"
            " is offered to follow instead; 0 = off"
        ),
    )
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), description="Comma-separated Telegram user ids of city admins"
    )
    supervisor_chat_id: int | None = Field(
        default=None, description="Chat id of the city office's group"
    )
    default_language: str = Field(default="vi", description="vi or en")
    playground_host: str = Field(
        default="127.0.0.1",
        description="Address the local playground page listens on (0.0.0.0 in a container)",
    )
    playground_port: int = Field(
        default=8080, ge=1, le=65535, description="Port of the local playground web page"
    )
    emulator_port: int = Field(
        default=8081, ge=0, le=65535, description="Port of the local Bot API emulator"
    )
    reopen_window_days: int = Field(
        default=7, ge=1, le=90, description="Days after a resolution a resident may reopen it"
    )
    close_after_days: int = Field(
        default=7, ge=1, le=90, description="Days after a resolution without an answer: closed"
    )
    # At most three working days ahead: the scheduler looks 16 calendar days ahead for
    # deadlines (bot.scheduler.LOOK_AHEAD), and three working days with Tết's nine days off and
    # the weekends around them fit in it; a reminder further ahead would have come late.
    receipt_remind_hours: float = Field(
        default=2,
        ge=0,
        le=REMIND_AT_MOST_HOURS,
        description="Working hours before the receipt deadline: remind the unit",
    )
    resolve_remind_hours: float = Field(
        default=8,
        ge=0,
        le=REMIND_AT_MOST_HOURS,
        description="Working hours before the resolution deadline: remind",
    )
    digest_time: time = Field(
        default=time(8, 0), description="When the daily digest goes to the supervisors, Hanoi time"
    )
    scheduler_interval_seconds: float = Field(
        default=60, gt=0, le=3600, description="How often reminders and escalations are checked"
    )
    office_hours: Annotated[tuple[tuple[time, time], ...], NoDecode] = Field(
        default=SHIFTS,
        description="Shifts of a working day, Hanoi time, e.g. 08:00-12:00,13:00-17:00",
    )
    extra_holidays: Annotated[frozenset[date], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated ISO dates off beyond the public holidays (announced Tết days)",
    )
    extra_working_days: Annotated[frozenset[date], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated ISO dates worked on a weekend (make-up Saturdays)",
    )

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "ADMIN_IDS must be Telegram user ids separated by commas, e.g. 12345,67890"
                ) from None
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("office_hours", mode="before")
    @classmethod
    def _office_hours(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return SHIFTS
        if isinstance(value, str):
            try:
                return parse_shifts(value)
            except ValueError as wrong:
                raise ValueError(
                    f"OFFICE_HOURS must be shifts in Hanoi time separated by commas, "
                    f"e.g. 08:00-12:00,13:00-17:00: {wrong}"
                ) from None
        return value

    @field_validator("extra_holidays", "extra_working_days", mode="before")
    @classmethod
    def _split_dates(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            days: set[date] = set()
            for part in (p for p in re.split(r"[,\s]+", value.strip()) if p):
                try:
                    days.add(date.fromisoformat(part))
                except ValueError:
                    name = (info.field_name or "").upper()
                    raise ValueError(
                        f"{name} must be dates written YYYY-MM-DD separated by commas, "
                        f"e.g. 2027-02-03,2027-02-11 ({part!r} is not one)"
                    ) from None
            return frozenset(days)
        return value

    @field_validator("supervisor_chat_id", "database_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Only the two async drivers the service runs on: another URL was accepted here and
        the start then failed with a traceback (no module psycopg, no such plugin)."""
        if value is None:
            return None
        example = "postgresql+asyncpg://user:password@host:5432/phananh"
        try:
            url = make_url(value)
            port = url.port
        except ArgumentError:
            raise ValueError(f"DATABASE_URL is not a database URL; e.g. {example}") from None
        except ValueError:  # int() of what follows the host's colon
            port = -1
        if port is not None and not 0 < port < 65536:
            raise ValueError(
                f"DATABASE_URL: the port must be a number from 1 to 65535; e.g. {example}"
            )
        driver = url.drivername
        if driver == "postgresql+asyncpg":
            # The query goes to asyncpg.connect() as keywords: a name it does not take
            # (libpq's sslmode, from a provider's URL) ended every start in a TypeError.
            unknown = sorted(set(url.query) - _asyncpg_options())
            if unknown:
                raise ValueError(
                    f"DATABASE_URL: asyncpg does not take {', '.join(unknown)} in the URL's "
                    "query; for TLS write ssl=require (not sslmode=require)"
                )
        if driver in _DATABASE_DRIVERS:
            return value
        if driver.startswith(("postgres", "sqlite")):
            wanted = "postgresql+asyncpg" if driver.startswith("postgres") else "sqlite+aiosqlite"
            raise ValueError(
                f"DATABASE_URL: the service reaches the database through its async driver: "
                f"write {wanted}://... (not {driver}://...)"
            )
        raise ValueError(f"DATABASE_URL must be PostgreSQL ({example}) or SQLite, not {driver}")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(rediss?|unix)://\S", value):
            raise ValueError(
                "REDIS_URL must be a URL such as redis://host:6379/0 (rediss:// with TLS, "
                "unix:// for a socket)"
            )
        return value

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            token = value.strip()
            if token.lower() in _PLACEHOLDERS or not _TOKEN_SHAPE.match(token):
                raise ValueError(
                    "BOT_TOKEN does not look like a token from @BotFather (digits, a colon, "
                    "then 30+ letters); set the real one, or leave it empty for the playground"
                )
            return token
        return value

    @field_validator("digest_time")
    @classmethod
    def _hanoi_time(cls, value: time) -> time:
        # An offset (08:00+07:00) made an aware time, which the scheduler compares with Hanoi's
        # clock time: every round failed, and no digest ever went out.
        if value.tzinfo is not None:
            raise ValueError("DIGEST_TIME is Hanoi time: write it without an offset, e.g. 08:00")
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"DEFAULT_LANGUAGE must be one of: {', '.join(LANGUAGES)}")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("TELEGRAM_API_URL must be an http(s) URL such as " + TELEGRAM_API_URL)
        if re.match(r"^http://api\.telegram\.org(?=[:/]|$)", value, re.IGNORECASE):
            # Every call carries the token in its path: in clear text over the internet.
            raise ValueError("TELEGRAM_API_URL: Telegram's own Bot API is https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and not value.startswith("https://"):
            raise ValueError("WEBHOOK_URL must be an https:// URL (Telegram calls only https)")
        if isinstance(value, str):
            try:
                port = urlsplit(value).port
            except ValueError:
                port = -1
            if port is not None and port not in _WEBHOOK_PORTS:
                # setWebhook refuses any other (400), after the start had said it was running.
                raise ValueError(
                    "WEBHOOK_URL: Telegram calls webhooks only on ports 443, 80, 88 or 8443 "
                    "(https://core.telegram.org/bots/api#setwebhook); leave the port out for 443"
                )
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _webhook_secret(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        generate = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9_-]{24,256}", value):
            raise ValueError(
                "WEBHOOK_SECRET must be 24 to 256 letters, digits, _ or - (Telegram's rule); "
                + generate
            )
        if isinstance(value, str) and (
            any(word in value.lower() for word in _PLACEHOLDER_WORDS) or len(set(value)) < 8
        ):
            raise ValueError(f"WEBHOOK_SECRET looks like a placeholder, not a secret; {generate}")
        return value

    @model_validator(mode="after")
    def _webhook_settings_together(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_URL is set, so WEBHOOK_SECRET must be set too")
        if self.webhook_secret is not None and not self.webhook_url:
            # Without WEBHOOK_URL this worker would poll, and polling starts by deleting the
            # webhook (prepare_polling's deleteWebhook): the webhook workers would get nothing.
            raise ValueError(
                "WEBHOOK_SECRET is set but WEBHOOK_URL is not (is it spelt so?): set "
                "WEBHOOK_URL for the webhook, or leave both empty to poll"
            )
        return self

    @model_validator(mode="after")
    def _calendar_is_valid(self) -> Settings:
        both = self.extra_holidays & self.extra_working_days
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"{listed} cannot be in both EXTRA_HOLIDAYS and EXTRA_WORKING_DAYS")
        try:
            self.work_calendar()
        except ValueError as wrong:  # office hours given as times rather than text
            raise ValueError(f"OFFICE_HOURS: {wrong}") from None
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'phananh.sqlite3'}"
        return self

    def missing_for_the_real_bot(self) -> list[str]:
        """What the real bot goes without, said at its start: not refused, a unit may try the
        bot alone first (bot.run, once Telegram has accepted the token)."""
        missing = []
        if self.supervisor_chat_id is None:
            missing.append(
                "SUPERVISOR_CHAT_ID is not set: the cards of tickets for units without a bound "
                "group go nowhere (a warning line each), and no escalation of late tickets nor "
                "daily digest is sent; set it to the chat id of the city office's group"
            )
        if not self.admin_ids:
            missing.append(
                "ADMIN_IDS is not set: no one can /bind a unit's group (nor /block a sender); "
                "set the Telegram user ids of the city admins"
            )
        return missing

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled in by _default_database
        return self.database_url

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def work_calendar(self) -> WorkCalendar:
        """Office hours and days off for every deadline, as configured."""
        return WorkCalendar(
            shifts=self.office_hours,
            extra_days_off=self.extra_holidays,
            extra_working_days=self.extra_working_days,
        )


def refusals(error: ValidationError) -> list[str]:
    """One line a refused setting, each naming it: our own checks' messages name their
    settings already (a check across settings has no one place of its own: pydantic's
    location is empty), pydantic's own are prefixed with the setting's name."""
    lines = []
    for problem in error.errors():
        name = ".".join(str(p) for p in problem["loc"]).upper()
        wrong = (problem.get("ctx") or {}).get("error")
        said = str(wrong) if problem["type"] == "value_error" and wrong else problem["msg"]
        lines.append(f"{name}: {said}" if name and not said.startswith(name) else said)
    return lines
