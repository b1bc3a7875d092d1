"""Telegram's chat_member updates as the conversations see them: a departure, nothing else;
and its my_chat_member updates: a resident unblocking the bot, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import ChatMemberRestricted, ChatMemberUpdated

from bot.channels.base import Kind
from bot.channels.telegram import bot_member_update_to_incoming, member_update_to_incoming

USER = {"id": 42, "is_bot": False, "first_name": "Hùng"}
CHIEF = {"id": 7, "is_bot": False, "first_name": "Lan Anh"}
RIGHTS = {  # every right a restricted member's record must spell out
    name: False
    for name, field in ChatMemberRestricted.model_fields.items()
    if name.startswith("can_") and field.is_required()
}


def member(status: str, **extra: Any) -> dict[str, Any]:
    if status == "restricted":
        extra = {**RIGHTS, "until_date": 0, **extra}
    if status == "kicked":
        extra = {"until_date": 0, **extra}
    return {"status": status, "user": USER, **extra}


def update(
    old: dict[str, Any], new: dict[str, Any], chat_type: str = "supergroup", by: Any = CHIEF
) -> Any:
    chat = {"id": -1001, "type": chat_type, "title": "UBND phường"}
    if chat_type == "private":
        chat = {"id": by["id"], "type": "private", "first_name": by["first_name"]}
    return ChatMemberUpdated.model_validate(
        {
            "chat": chat,
            "from": by,
            "date": 0,
            "old_chat_member": old,
            "new_chat_member": new,
        }
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (member("member"), member("left")),
        (member("member"), member("kicked")),
        (member("restricted", is_member=True), member("restricted", is_member=False)),
        (member("restricted", is_member=True), member("left")),
    ],
)
def test_leaving_or_being_removed_is_a_departure(old: Any, new: Any) -> None:
    event = member_update_to_incoming(update(old, new))
    assert event is not None and event.kind is Kind.MEMBER_LEFT
    assert event.extra == {"user": "42"} and event.chat_id == "-1001" and not event.private
    assert event.person.id == "7"  # who did it


@pytest.mark.parametrize(
    ("old", "new", "chat_type"),
    [
        (member("left"), member("member"), "supergroup"),  # a join
        (member("member"), member("restricted", is_member=True), "supergroup"),
        (member("restricted", is_member=False), member("left"), "supergroup"),  # was not in
        (member("kicked"), member("left"), "group"),  # unbanned
        (member("member"), member("left"), "channel"),  # a subscriber, not an official
    ],
)
def test_anything_else_is_not(old: Any, new: Any, chat_type: str) -> None:
    assert member_update_to_incoming(update(old, new, chat_type)) is None


def test_unblocking_the_bot_is_a_return() -> None:
    event = bot_member_update_to_incoming(
        update(member("kicked"), member("member"), "private", USER)
    )
    assert event is not None and event.kind is Kind.RETURNED
    assert event.private and event.chat_id == "42" and event.person.id == "42"


@pytest.mark.parametrize(
    ("old", "new", "chat_type"),
    [
        (member("member"), member("kicked"), "private"),  # blocked: the next 403 tells
        (member("left"), member("member"), "supergroup"),  # the bot added to a group
        (member("member"), member("kicked"), "supergroup"),  # the bot removed from one
    ],
)
def test_anything_else_of_the_bots_own_membership_is_not(
    old: Any, new: Any, chat_type: str
) -> None:
    assert bot_member_update_to_incoming(update(old, new, chat_type, USER)) is None
