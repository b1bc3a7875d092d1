"""Groups with topics (Telegram's forums): what an official writes in a topic is answered in
that topic, not in the group's General topic where no one reading the topic sees it; and a
message written there is not taken for a reply to whoever opened the topic (Telegram shows a
topic's messages to bots as replies to the message that opened it)."""

from __future__ import annotations

from typing import Any

from tests.world import World, plain

VAN_MIEU = "00226"


async def forum(world: World) -> tuple[Any, int]:
    """A unit's group with topics, the official one of its admins, and a topic a colleague
    opened: the group and the topic's id."""
    group = world.emu.add_group("UBND phường Văn Miếu - Quốc Tử Giám", forum=True)
    world.emu.add_member(group, world.official, status="administrator")
    opener = world.emu.add_user("Trưởng phòng Minh", language_code="vi")
    world.emu.add_member(group, opener, status="administrator")
    await world.bind(group, VAN_MIEU)
    topic = await world.emu.open_topic(opener, group, "Phản ánh của người dân")
    await world.settle()
    assert world.emu.bot_messages(group) == []  # a topic opened is nothing to answer
    return group, topic


async def test_a_command_in_a_topic_is_answered_in_that_topic(world: World) -> None:
    group, topic = await forum(world)
    await world.say(world.official, "/open", chat=group, topic=topic)
    answer = await world.reply(group)
    assert "không có phản ánh nào đang mở" in plain(answer)
    assert answer.get("message_thread_id") == topic and answer.get("is_topic_message")
    await world.say(world.official, "/open", chat=group)  # in General: answered there
    assert "message_thread_id" not in await world.reply(group)


async def test_a_command_in_a_topic_is_not_a_reply_to_the_topics_opener(world: World) -> None:
    group, topic = await forum(world)
    await world.say(world.official, "/add_official", chat=group, topic=topic)
    answer = await world.reply(group)
    assert "trả lời (reply)" in plain(answer) and answer.get("message_thread_id") == topic
    await world.say(world.official, "/officials", chat=group, topic=topic)
    assert "Trưởng phòng Minh" not in plain(await world.reply(group))


async def test_figures_and_files_asked_for_in_a_topic_arrive_there(world: World) -> None:
    group, topic = await forum(world)
    await world.report(photos=0, place=(21.0293, 105.8356))  # Văn Miếu - Quốc Tử Giám
    card = await world.reply(group)
    assert "message_thread_id" not in card  # cards go to the General topic
    await world.settle()
    world.emu.skip_bot_messages(group)
    await world.say(world.official, "/stats", chat=group, topic=topic)
    figures, chart = await world.replies(group, 2)
    assert "Thống kê" in plain(figures) and "photo" in chart
    await world.say(world.official, "/export", chat=group, topic=topic)
    document = await world.reply(group)
    assert "document" in document
    for answer in (figures, chart, document):
        assert answer.get("message_thread_id") == topic
