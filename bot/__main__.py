"""``python -m bot``: run the bot. With BOT_TOKEN it talks to Telegram; without, it runs locally.

Commands: ``python -m bot`` (run), ``python -m bot demo`` (the local playground, playing one whole
report and printing it first), ``python -m bot migrate`` (bring the schema up to date),
``python -m bot import-boundaries FILE.geojson``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.logsafety import protect
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    demo = sub.add_parser(
        "demo", help="run the local playground (never Telegram) and play one report in it"
    )
    demo.add_argument("--exit", action="store_true", help="stop after printing the conversation")
    sub.add_parser("migrate", help="bring the database schema up to date (also done on start)")
    imp = sub.add_parser("import-boundaries", help="check and install official unit polygons")
    imp.add_argument("file", help="a GeoJSON FeatureCollection with a 'code' on each feature")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Quieten aiohttp's access log and aiogram's per-update lines; ours say what matters.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    try:
        settings = Settings()
    except ValidationError as error:
        print("Configuration error:", file=sys.stderr)
        for problem in error.errors():
            name = ".".join(str(p) for p in problem["loc"]).upper()
            print(f"  {name}: {problem['msg']}", file=sys.stderr)
        return 2
    protect(settings.bot_token.get_secret_value() if settings.bot_token else None)
    if args.command == "migrate":
        from bot.schema import migrate

        return asyncio.run(migrate(settings))
    if args.command == "import-boundaries":
        from bot.boundaries import import_boundaries

        return import_boundaries(settings, args.file)
    if args.command == "demo":
        from bot.local import run_local

        return asyncio.run(run_local(settings, demo=True, once=args.exit))
    from bot.run import run

    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
