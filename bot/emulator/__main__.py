"""Run the emulator on its own: ``python -m bot.emulator --port 8081``.

Prints the base URL and the bot token to use; a demo user is added so the control API has
someone to act as (POST /_emulator/send_text {"user_id": ..., "text": "/start"}).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .emulator import BotAPIEmulator


async def serve(args: argparse.Namespace) -> None:
    emu = BotAPIEmulator(
        args.bot_username, token=args.token, privacy_mode=not args.no_privacy, host=args.host
    )
    url = await emu.start(port=args.port)
    user = emu.add_user(args.user_name, username="resident_demo")
    print(f"Bot API emulator listening on {url}", flush=True)
    print(f"  bot token : {emu.token}", flush=True)
    print(f"  bot       : @{emu.bot.username} (id {emu.bot.id})", flush=True)
    print(f"  demo user : {user.first_name} (id {user.id})", flush=True)
    print(f"  control   : {url}/_emulator", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-username", default="phananh_test_bot")
    parser.add_argument("--token", default=None, help="bot token to accept (default: generated)")
    parser.add_argument("--user-name", default="Nguyễn Văn An", help="name of the demo user")
    parser.add_argument(
        "--no-privacy", action="store_true", help="the bot sees every group message"
    )
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
