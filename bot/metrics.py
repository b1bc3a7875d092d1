"""What operators watch: /healthz and the Prometheus /metrics endpoint.

Counters and the latency histogram are recorded as updates are handled (a middleware on the
dispatcher) and as the sender meets failures; the gauges that describe the database (outbox
backlog, tickets by status) are read from it when Prometheus scrapes. Each App owns its own
registry, so tests and several apps in one process never share numbers.

Both routes are served by the webhook's server in webhook mode, and by a small server of their
own (METRICS_HOST, METRICS_PORT) in polling mode.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.lifecycle import Status
from storage import outbox
from storage.db import read_connection
from storage.models import OutboxMessage, Ticket

if TYPE_CHECKING:
    from aiogram.fsm.storage.redis import RedisStorage

    from bot.app import App

log = logging.getLogger(__name__)

# From a cached status lookup (5 ms) to a report with photos on a slow Bot API (10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CHECK_TIMEOUT = 5.0  # seconds: a database or Redis slower than this counts as down


class Metrics:
    """The service's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "phananh_updates",
            "Updates handled, by kind (message, callback_query, ...) and outcome (ok, error)",
            ["kind", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "phananh_update_handling_seconds",
            "Time from an update reaching the dispatcher to its handling being done",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_sent = Counter(
            "phananh_outbox_sent", "Outbox messages delivered, by kind", ["kind"], registry=r
        )
        self.outbox_failures = Counter(
            "phananh_outbox_failures",
            "Failed outbox delivery attempts, by kind and outcome: retried (an error, retried "
            "with backoff), throttled (429, retried after retry_after), dead (given up)",
            ["kind", "outcome"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "phananh_outbox_pending", "Outbox messages waiting to be delivered", registry=r
        )
        self.outbox_oldest = Gauge(
            "phananh_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message still waiting (0 when none waits)",
            registry=r,
        )
        self.tickets = Gauge("phananh_tickets", "Tickets by current status", ["status"], registry=r)
        self.database_up = Gauge(
            "phananh_database_up",
            "1 when the last scrape could read the database, else 0",
            registry=r,
        )

    # -- recorded as things happen ---------------------------------------------------------------

    def update_handled(self, kind: str, outcome: str, seconds: float) -> None:
        self.updates.labels(kind=kind, outcome=outcome).inc()
        self.latency.labels(kind=kind).observe(seconds)

    def outbox_delivered(self, kind: str) -> None:
        self.outbox_sent.labels(kind=kind).inc()

    def outbox_failed(self, kind: str, outcome: str) -> None:
        self.outbox_failures.labels(kind=kind, outcome=outcome).inc()

    # -- read at scrape time ---------------------------------------------------------------------

    async def refresh(self, engine: AsyncEngine, now: datetime) -> None:
        """Set the gauges that describe the database. A database that cannot answer sets
        phananh_database_up to 0 and leaves the other gauges at their last values. Read on a
        connection of its own: a scrape neither waits for nor holds SQLite's writer."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), read_connection(engine) as connection:
                pending, oldest = (
                    await connection.execute(
                        select(func.count(), func.min(OutboxMessage.created_at)).where(
                            OutboxMessage.status == outbox.PENDING
                        )
                    )
                ).one()
                rows = await connection.execute(
                    select(Ticket.status, func.count()).group_by(Ticket.status)
                )
                by_status = {status: int(count) for status, count in rows}
        except Exception as error:  # any failure here (a timeout too) means "database down"
            log.warning("metrics: could not read the database: %r", error)
            self.database_up.set(0)
            return
        # No await from here on: a concurrent scrape never sees the gauges half set.
        self.database_up.set(1)
        self.outbox_pending.set(int(pending or 0))
        self.outbox_oldest.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        self.tickets.clear()  # a status no ticket has any more must not keep its old count
        for known in Status:
            self.tickets.labels(status=known.value).set(0)
        for status, count in by_status.items():
            self.tickets.labels(status=status).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# Set by UpdateMetrics for the update being handled: a handler that catches its own failure
# (rolls back, apologises to the person) says so here, and the update counts as an error.
_FAILED: ContextVar[list[bool] | None] = ContextVar("phananh_update_failed", default=None)


def handling_failed() -> None:
    """The update being handled failed, though its handler caught the error: counted so."""
    failed = _FAILED.get()
    if failed is not None:
        failed.append(True)


class UpdateMetrics(BaseMiddleware):
    """Counts each update by kind and outcome and times its handling. An outer middleware on
    the dispatcher's ``update`` observer, registered after aiogram's own (errors, FSM), so it
    sees an exception before the errors middleware turns it into an error event; a failure
    the handler caught itself is reported with :func:`handling_failed`."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        kind = _update_kind(event)
        started = time.perf_counter()
        outcome = "error"
        failed: list[bool] = []
        token = _FAILED.set(failed)
        try:
            result = await handler(event, data)
            outcome = "error" if failed else "ok"
            return result
        finally:
            _FAILED.reset(token)
            self.metrics.update_handled(kind, outcome, time.perf_counter() - started)


def _update_kind(event: TelegramObject) -> str:
    if not isinstance(event, Update):
        return "unknown"
    try:
        return event.event_type
    except UpdateTypeLookupError:  # an update type this aiogram does not know yet
        return "unknown"


# -- health ------------------------------------------------------------------------------------


async def _check(what: str, probe: Callable[[], Awaitable[object]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe()
    except Exception as error:  # whatever the failure (a timeout too), the part is down
        log.warning("health: %s failed: %r", what, error)
        # Only the kind of failure: /healthz may be reachable from outside, and an error
        # message can name hosts and users.
        return f"unavailable ({error.__class__.__name__})"
    return "ok"


def is_redis_storage(storage: BaseStorage) -> TypeGuard[RedisStorage]:
    """Whether the conversations are kept in Redis. Redis's modules are imported only when
    REDIS_URL is set (bot.app), so without them loaded the storage cannot be Redis."""
    module = sys.modules.get("aiogram.fsm.storage.redis")
    return module is not None and isinstance(storage, module.RedisStorage)


async def health(app: App) -> tuple[bool, dict[str, str]]:
    """Whether the database answers SELECT 1 and Redis (when configured) answers PING. The
    database is asked on a read connection: a busy writer is not a database down."""

    async def database() -> None:
        async with read_connection(app.engine) as conn:
            await conn.execute(text("SELECT 1"))

    parts = {"database": await _check("database", database)}
    storage = app.dispatcher.storage
    if is_redis_storage(storage):
        parts["redis"] = await _check("redis", storage.redis.ping)
    healthy = all(v == "ok" for v in parts.values())
    return healthy, parts


def add_routes(web_app: web.Application, app: App) -> None:
    """GET /healthz and GET /metrics on an aiohttp application."""

    async def healthz(_: web.Request) -> web.Response:
        healthy, parts = await health(app)
        body: dict[str, object] = {"status": "ok" if healthy else "unavailable", **parts}
        if not healthy:
            body["failed"] = [name for name, v in parts.items() if v != "ok"]
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(_: web.Request) -> web.Response:
        await app.metrics.refresh(app.engine, app.services.clock())
        return web.Response(
            body=app.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)


async def serve(app: App, host: str, port: int) -> web.AppRunner:
    """The two routes on a server of their own (polling mode); port 0 picks a free one
    (see ``runner.addresses``). Stop it with ``runner.cleanup()``."""
    web_app = web.Application()
    add_routes(web_app, app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
