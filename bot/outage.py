"""Failures of the database or Redis, told apart from failures of an update itself.

An update that fails for its own content (a bug it sets off) is given up after a while, so it
does not hold up its chat for ever (bot.webhook, bot.polling); one that failed because the
database or Redis was away or overloaded will go through once they are back, and is kept.
"""

from __future__ import annotations

import sys

import sqlalchemy.exc


def outage(error: BaseException) -> bool:
    """Whether ``error`` says the database or Redis was away or overloaded (a connection
    refused, lost or timed out; a pool with no connection free for its 30 s) rather than
    anything of the update: such a failure never counts towards giving the update up. A burst
    of pool timeouts while other updates still went through let a good one go after three,
    and its resident was told it could not be handled."""
    redis_errors = sys.modules.get("redis.exceptions")  # imported only where REDIS_URL is set
    found: BaseException | None = error
    for _ in range(8):  # along what it was raised from
        if found is None:
            return False
        if isinstance(found, (sqlalchemy.exc.TimeoutError, ConnectionError, TimeoutError)):
            return True
        if redis_errors is not None and isinstance(
            found, (redis_errors.ConnectionError, redis_errors.TimeoutError)
        ):
            return True
        if isinstance(found, sqlalchemy.exc.DBAPIError):
            if found.connection_invalidated:
                return True
            orig = found.orig
            found = orig if isinstance(orig, BaseException) else found.__cause__
            continue
        found = found.__cause__
    return False
