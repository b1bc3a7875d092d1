"""Logging that never writes the bot token.

The token is part of every Bot API URL (``/bot<token>/method``), and errors from the HTTP
client quote URLs. A filter on every handler replaces the token, wherever it appears in a
record (message, arguments or traceback), before anything is written.
"""

from __future__ import annotations

import logging

REDACTED = "<BOT_TOKEN>"


class RedactToken(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        record.msg = self._clean(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        record.exc_info = None  # formatted (and cleaned) above
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def protect(token: str | None, logger: logging.Logger | None = None) -> None:
    """Add the redacting filter to every handler of ``logger`` (the root by default)."""
    if not token:
        return
    target = logger or logging.getLogger()
    guard = RedactToken([token])
    for handler in target.handlers:
        handler.addFilter(guard)
