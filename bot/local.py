"""The token-free local world: the real bot talking over HTTP to the project's Bot API emulator.

It binds demo groups to two units, plays one whole report (a resident reports, an official
answers and accepts) and prints the conversation, then keeps running so that anyone can act in
it through the emulator's HTTP control API. The same code path as production handles every
update; nothing here is product logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
from typing import Any

from PIL import Image, ImageDraw

from bot.app import App, build_app, set_commands
from bot.emulator import BotAPIEmulator
from bot.settings import Settings
from storage.repo import Repository

# A token in the right shape for the emulator; it is never sent anywhere else.
LOCAL_TOKEN = "1000000001:LOCALplaygroundTOKENnotAsecret000000"
DEMO_UNITS = (("00070", "UBND phường Hoàn Kiếm"), ("00004", "UBND phường Ba Đình"))
HOAN_KIEM_LAKE = (21.0288, 105.8522)


def sample_photo() -> bytes:
    """A small drawn picture of a pothole, so the demo needs no file from anywhere."""
    image = Image.new("RGB", (800, 600), (120, 120, 125))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, 800, 600), fill=(70, 70, 72))
    draw.ellipse((300, 430, 520, 520), fill=(30, 28, 25))
    draw.line((0, 480, 800, 480), fill=(230, 230, 230), width=6)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


class Transcript:
    """Prints a chat as a person would read it."""

    def __init__(self, emu: BotAPIEmulator) -> None:
        self.emu = emu

    def person(self, who: str, what: str) -> None:
        print(f"  👤 {who}: {what}")

    async def bot(self, chat_id: int, count: int = 1, where: str = "") -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = await self.emu.wait_bot_messages(
            chat_id, count=count, timeout=15.0
        )
        for m in messages:
            body = m.get("text") or m.get("caption") or ""
            if m.get("photo"):
                body = "[photo] " + body
            if m.get("venue") or m.get("location"):
                body = "[map pin] " + str((m.get("venue") or {}).get("title", ""))
            keys = [
                b["text"]
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ]
            lines = str(body).splitlines() or [""]
            print(f"  🤖 Bot{where}: {lines[0]}")
            for line in lines[1:]:
                print(f"         {line}")
            if keys:
                print("         [" + "] [".join(keys) + "]")
        return messages


def _data(message: dict[str, Any], data: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button["callback_data"])
    raise RuntimeError(f"the bot did not offer {data!r}")


async def play_demo(emu: BotAPIEmulator, resident: Any, official: Any, group: Any) -> None:
    t = Transcript(emu)
    print("\nA resident reports a problem (private chat with the bot):")
    t.person("Lan", "/start")
    await emu.send_text(resident, "/start")
    await t.bot(resident.id, 2)
    t.person("Lan", "/report")
    await emu.send_text(resident, "/report")
    (ask,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Đường, vỉa hè")
    await emu.press(resident, ask, _data(ask, "r:cat:roads"))
    await t.bot(resident.id)
    description = "Ổ gà lớn trước số 5 Tràng Tiền, xe máy dễ ngã khi trời tối."
    t.person("Lan", description)
    await emu.send_text(resident, description)
    await t.bot(resident.id)
    t.person("Lan", "[photo]")
    await emu.send_photo(resident, sample_photo())
    (ack,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Xong")
    await emu.press(resident, ack, _data(ack, "r:done"))
    await t.bot(resident.id)
    t.person("Lan", "[shares location] Hoàn Kiếm Lake")
    await emu.send_location(resident, *HOAN_KIEM_LAKE)
    _, confirm = await t.bot(resident.id, 2)
    t.person("Lan", "[taps] Đúng")
    await emu.press(resident, confirm, _data(confirm, "r:ok"))
    (review,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Gửi phản ánh")
    await emu.press(resident, review, _data(review, "r:submit"))
    await t.bot(resident.id)
    print("\nThe ward's group chat receives the card:")
    card, *_ = await t.bot(group.id, 3, " → group")
    print("\nAn official replies to the card, then accepts it:")
    answer = "Chào chị, phường đã cử tổ kiểm tra, sẽ vá trong tuần này."
    t.person("Cán bộ Hùng (reply to the card)", answer)
    await emu.send_text(official, answer, chat=group, reply_to=card)
    await t.bot(resident.id, 1, " → Lan")
    await t.bot(group.id, 1, " → group")
    t.person("Cán bộ Hùng", "[taps] ✅ Tiếp nhận")
    await emu.press(
        official, card, _data(card, card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    )
    await t.bot(group.id, 1, " → group")
    await t.bot(resident.id, 1, " → Lan")


async def _bind_demo_groups(app: App, groups: list[tuple[str, Any]]) -> None:
    async with app.sessions() as session:
        repo = Repository(session)
        for unit, group in groups:
            await repo.bind_chat("telegram", str(group.id), unit, "local-setup")
        await repo.commit()


async def run_local(
    settings: Settings, *, demo: bool = True, stop: asyncio.Event | None = None
) -> int:
    emu = BotAPIEmulator(token=LOCAL_TOKEN)
    url = await emu.start(port=settings.emulator_port)
    resident = emu.add_user("Lan", username="lan_hanoi", language_code="vi")
    official = emu.add_user("Cán bộ Hùng", language_code="vi")
    groups = []
    for unit, title in DEMO_UNITS:
        group = emu.add_group(title)
        emu.add_member(group, official)
        groups.append((unit, group))
    supervisor = emu.add_group("Văn phòng UBND Thành phố")
    emu.add_member(supervisor, official)
    local = settings.model_copy(
        update={"telegram_api_url": url, "supervisor_chat_id": supervisor.id}
    )
    app = await build_app(local, token=LOCAL_TOKEN)
    await _bind_demo_groups(app, groups)
    await set_commands(app.bot, settings.default_language)
    polling = asyncio.create_task(
        app.dispatcher.start_polling(app.bot, handle_signals=False, close_bot_session=False)
    )
    print(
        "Phản ánh: no BOT_TOKEN set, so this is the local world: the real bot talking to the "
        f"project's Bot API emulator at {url}\n(database: {local.db_url})"
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if demo:
            await play_demo(emu, resident, official, groups[0][1])
        print(
            f"\nStill running. Act as residents and officials through {url}/_emulator/ "
            "(see README), or press Ctrl-C to stop."
        )
        await stop.wait()
    finally:
        await app.dispatcher.stop_polling()
        await polling
        await app.close()
        await emu.stop()
    return 0
