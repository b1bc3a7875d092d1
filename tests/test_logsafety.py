"""The bot token never reaches the logs, even inside an error that quotes a Bot API URL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logsafety import REDACTED, RedactToken, protect
from tests.world import TOKEN, World, jpeg, plain


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything logged anywhere during the test, through a token-protected handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    protect(TOKEN, root)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for h in root.handlers:
            for f in list(h.filters):
                if isinstance(f, RedactToken):
                    h.removeFilter(f)


def test_token_in_a_message_an_argument_and_a_traceback_is_redacted(
    log_text: io.StringIO,
) -> None:
    logger = logging.getLogger("test.logsafety")
    logger.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise RuntimeError(f"GET /file/bot{TOKEN}/photos/1.jpg failed")
    except RuntimeError:
        logger.exception("download failed for " + TOKEN)
    text = log_text.getvalue()
    assert TOKEN not in text
    assert text.count(REDACTED) >= 3
    assert "RuntimeError" in text  # the traceback is still there, only cleaned


async def test_a_failed_photo_download_logs_no_token(world: World, log_text: io.StringIO) -> None:
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà rất sâu trước cổng chợ Hôm.")
    await world.reply(r)
    world.emu.faults.set("download", server_error=1.0)  # the file server is down
    await world.emu.send_photo(r, jpeg())
    apology = await world.reply(r, timeout=20)
    assert "đã có lỗi" in plain(apology)
    text = log_text.getvalue()
    assert "/file/bot" in text  # the failing URL was logged...
    assert TOKEN not in text  # ...without the token
