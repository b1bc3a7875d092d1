"""A local emulator of the Telegram Bot API for tests, benchmarks and the playground.

A real aiogram Bot talks HTTP to it (``Bot(token, session=AiohttpSession(
api=TelegramAPIServer.from_base(emu.url)))``, or ``emu.make_bot()``), while tests act as
residents and officials through the actor API and read what the bot did.
"""

from .emulator import BotAPIEmulator, button_data
from .errors import ApiError
from .faults import FaultRule, Faults
from .html import HtmlParseError, parse_html, utf16_len
from .media import make_image
from .state import ApiCall, ChatRef, EmuChat, EmuUser, MessageRecord

__all__ = [
    "ApiCall",
    "ApiError",
    "BotAPIEmulator",
    "ChatRef",
    "EmuChat",
    "EmuUser",
    "FaultRule",
    "Faults",
    "HtmlParseError",
    "MessageRecord",
    "button_data",
    "make_image",
    "parse_html",
    "utf16_len",
]
