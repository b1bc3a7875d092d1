"""aiogram imported with its types built on first use (bot.lean_aiogram): the same validation,
only built later. Each check runs in a fresh interpreter, since this test process imported
aiogram long before."""

from __future__ import annotations

from tests.process import run_python

USES = """
from bot.lean_aiogram import import_aiogram_lazily

print("lazy", import_aiogram_lazily(), import_aiogram_lazily())
from aiogram.methods import SendMessage
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

print("deferred", Message.__pydantic_complete__, Update.__pydantic_complete__)
update = Update.model_validate({
    "update_id": 7,
    "callback_query": {
        "id": "q", "chat_instance": "c", "data": "m:report",
        "from": {"id": 5, "is_bot": False, "first_name": "Lan"},
        "message": {"message_id": 3, "date": 1, "chat": {"id": 5, "type": "private"},
                    "text": "menu", "reply_markup": {"inline_keyboard": [[
                        {"text": "Report", "callback_data": "m:report"}]]}},
    },
})
print("update", update.callback_query.data, update.callback_query.message.reply_markup
      .inline_keyboard[0][0].text, update.callback_query.from_user.first_name)
send = SendMessage(chat_id=5, text="<b>hi</b>", reply_markup=InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="p:ok")]]))
print("method", send.model_dump(exclude_none=True)["reply_markup"]["inline_keyboard"][0][0]["text"])
answer = Response[Message].model_validate({"ok": True, "result": {
    "message_id": 9, "date": 1, "chat": {"id": 5, "type": "private"}, "text": "ok"}})
print("response", answer.result.message_id)
try:
    Update.model_validate({"update_id": "not a number"})
except Exception as error:
    print("invalid", type(error).__name__)
"""


async def _python(code: str) -> list[list[str]]:
    return [line.split() for line in (await run_python(code)).splitlines()]


async def test_types_are_built_on_first_use_and_validate_as_before() -> None:
    lines = await _python(USES)
    assert lines == [
        ["lazy", "True", "False"],  # a second call finds aiogram imported: nothing to do
        ["deferred", "False", "False"],  # no validator was built at import
        ["update", "m:report", "Report", "Lan"],
        ["method", "OK"],
        ["response", "9"],
        ["invalid", "ValidationError"],
    ]


EVERY_MODEL = """
from bot.lean_aiogram import import_aiogram_lazily

import_aiogram_lazily()
import aiogram.methods
import aiogram.types
from aiogram.types import message
from pydantic import BaseModel


def build_all() -> None:
    built, failed = 0, []
    for module in (aiogram.types, aiogram.methods):
        for name in dir(module):
            model = getattr(module, name)
            if isinstance(model, type) and issubclass(model, BaseModel):
                try:
                    model.model_rebuild(raise_errors=True)
                    built += 1
                except Exception as error:
                    failed.append(f"{name}:{type(error).__name__}")
    print("built", built > 500, *failed)


build_all()
# Each module's globals got only the names its classes' annotations use, not all of them.
print("globals", "Chat" in vars(message), "SetChatMenuButton" in vars(message))
"""


async def test_every_type_and_method_builds_with_the_names_its_module_was_given() -> None:
    # A type whose annotations name something its module was not given would fail on first
    # use, in production, on the first update or answer that carries it.
    lines = await _python(EVERY_MODEL)
    assert lines == [["built", "True"], ["globals", "True", "False"]]


async def test_after_a_plain_import_it_leaves_aiogram_as_it_is() -> None:
    lines = await _python(
        "import aiogram.types\n"
        "from bot.lean_aiogram import import_aiogram_lazily\n"
        "print(import_aiogram_lazily(), aiogram.types.Message.__pydantic_complete__)\n"
    )
    assert lines == [["False", "True"]]


async def test_what_the_bot_uses_is_built_at_start_and_nothing_more() -> None:
    lines = await _python(
        "from bot.lean_aiogram import build_now, import_aiogram_lazily\n"
        "import_aiogram_lazily()\n"
        "from aiogram.methods import SendMessage, SendVenue\n"
        "from aiogram.methods.base import Response\n"
        "from aiogram.types import Message, Update\n"
        "build_now([SendMessage])\n"
        "print(Update.__pydantic_complete__, SendMessage.__pydantic_complete__,\n"
        "      Response[Message].__pydantic_complete__, SendVenue.__pydantic_complete__)\n"
    )
    assert lines == [["True", "True", "True", "False"]]


async def test_the_answers_types_built_at_start_are_kept() -> None:
    # aiogram validates every answer as Response[<result type>], and pydantic keeps such a
    # class only while something else refers to it: once collected, the next answer would
    # build its validator again (a twelfth of the bot's CPU under load, in a profile).
    lines = await _python(
        "import gc, weakref\n"
        "from bot.lean_aiogram import build_now, import_aiogram_lazily\n"
        "import_aiogram_lazily()\n"
        "from aiogram.methods import SendMessage\n"
        "from aiogram.methods.base import Response\n"
        "from aiogram.types import Message\n"
        "build_now([SendMessage])\n"
        "built = weakref.ref(Response[Message])\n"
        "gc.collect()\n"
        "print(built() is not None, built() is Response[Message])\n"
    )
    assert lines == [["True", "True"]]
