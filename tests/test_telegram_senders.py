"""Who a Telegram message is from, as the conversations see it (bot.channels.telegram): a
person, a group's anonymous administrator writing as the group, or no one (a channel)."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message

from bot.channels.telegram import message_to_incoming

GROUP = {"id": -1001, "type": "supergroup", "title": "UBND phường Hoàn Kiếm"}
CHANNEL = {"id": -1002, "type": "channel", "title": "Tin phường Hoàn Kiếm"}
HUNG = {"id": 42, "is_bot": False, "first_name": "Cán bộ Hùng"}


def message(**fields: Any) -> Message:
    data = {"message_id": 7, "date": 1_764_000_000, "chat": GROUP, "text": "Đã xử lý", **fields}
    return Message.model_validate(data)


def test_a_member_is_the_person_who_wrote() -> None:
    event = message_to_incoming(message(**{"from": HUNG}))
    assert event is not None
    person = event.person
    assert (person.id, person.name, person.as_chat) == ("42", "Cán bộ Hùng", False)


def test_an_anonymous_admin_is_the_group_signed_with_their_title() -> None:
    stand_in = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    event = message_to_incoming(
        message(**{"from": stand_in, "sender_chat": GROUP, "author_signature": "Chủ tịch"})
    )
    assert event is not None
    person = event.person
    assert (person.id, person.name, person.as_chat) == ("-1001", "Chủ tịch", True)


def test_a_channels_post_forwarded_into_its_linked_group_is_no_one() -> None:
    """Its ``from`` is "Telegram" (777000), which is not a bot: taken for a person, it could be
    put on a unit's roster by a reply to it."""
    telegram = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
    forward = message(**{"from": telegram, "sender_chat": CHANNEL, "is_automatic_forward": True})
    assert message_to_incoming(forward) is None
    reply = message(**{"from": HUNG, "text": "/add_official", "reply_to_message": forward})
    event = message_to_incoming(reply)
    assert event is not None and event.reply_person is None


def test_a_member_writing_as_their_channel_and_a_channel_post_are_no_one() -> None:
    channel_bot = {"id": 136817688, "is_bot": True, "first_name": "Channel"}
    assert message_to_incoming(message(**{"from": channel_bot, "sender_chat": CHANNEL})) is None
    assert message_to_incoming(message(chat=CHANNEL, sender_chat=CHANNEL)) is None


def test_a_command_ends_at_a_line_break_or_a_no_break_space() -> None:
    """ "/status", a new line (a phone's return key), the number: the command was read as
    "status\\nABCD-EFG", unknown; so was one with a no-break space pasted after it."""
    private = {"id": 42, "type": "private", "first_name": "Hùng"}
    for text in ("/status\nABCD-EFG", "/status\u00a0ABCD-EFG", "/status \n ABCD-EFG"):
        event = message_to_incoming(message(chat=private, text=text, **{"from": HUNG}))
        assert event is not None
        assert (event.command, event.args.strip()) == ("status", "ABCD-EFG"), text
    event = message_to_incoming(
        message(chat=private, text="/lang@phananh_bot\nen", **{"from": HUNG})
    )
    assert event is not None and (event.command, event.args) == ("lang", "en")
    event = message_to_incoming(message(chat=private, text="/status", **{"from": HUNG}))
    assert event is not None and (event.command, event.args) == ("status", "")
