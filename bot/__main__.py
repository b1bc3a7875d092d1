"""``python -m bot``: run the bot. With BOT_TOKEN it talks to Telegram; without, it runs locally.

Commands: ``python -m bot`` (run), ``python -m bot demo`` (the local playground, playing one whole
report and printing it first), ``python -m bot migrate`` (bring the schema up to date),
``python -m bot import-boundaries FILE.geojson``, ``python -m bot seed --tickets N`` (a realistic
year of tickets, for benchmarks and trials), ``python -m bot export tickets|ranking --format
csv|xlsx [--period ...] --out FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.lean_aiogram import import_aiogram_lazily
from bot.logsafety import protect
from bot.malloc import pin_mmap_threshold
from bot.settings import Settings, refusals


def main(argv: list[str] | None = None) -> int:
    import_aiogram_lazily()  # before anything imports aiogram: ~100 MB less at idle
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
    seed = sub.add_parser("seed", help="fill the database with a realistic year of tickets")
    seed.add_argument("--tickets", type=int, required=True, help="how many tickets to add")
    seed.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    exp = sub.add_parser("export", help="write tickets or the units' ranking as CSV or XLSX")
    exp.add_argument("what", choices=["tickets", "ranking"])
    exp.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exp.add_argument(
        "--period", default="", help="as after /stats: 7, 2026-11, 2026, 2026-10-01 2026-10-31"
    )
    exp.add_argument("--unit", default=None, help="only this unit's tickets (its code)")
    exp.add_argument("--out", required=True, help="the file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Quieten aiogram's per-update lines (aiohttp's access log is off where its servers are
    # made: bot.webhook, bot.metrics); ours say what matters.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    pin_mmap_threshold()  # freed photo buffers go back to the system (bot.malloc)
    try:
        settings = Settings()
    except ValidationError as error:
        print("Configuration error:", file=sys.stderr)
        for line in refusals(error):
            print(f"  {line}", file=sys.stderr)
        return 2
    protect(settings.bot_token.get_secret_value() if settings.bot_token else None)
    from bot.schema import Unreachable

    try:
        return _command(parser, args, settings)
    except Unreachable as error:  # the database could not be opened: one line, as settings
        print(error, file=sys.stderr)
        return 2


def _command(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """The command asked for, run; its exit code."""
    if args.command == "migrate":
        from bot.schema import migrate

        return asyncio.run(migrate(settings))
    if args.command == "import-boundaries":
        from bot.boundaries import import_boundaries

        return import_boundaries(settings, args.file)
    if args.command == "seed":
        if args.tickets < 0:
            parser.error("--tickets must not be negative")
        from bot.seed import seed_configured

        return asyncio.run(seed_configured(settings.db_url, args.tickets, args.seed))
    if args.command == "export":
        from bot.export import export_to_file

        return export_to_file(
            settings.db_url, args.what, args.format, args.period, args.unit, args.out
        )
    if args.command == "demo":
        from bot.local import run_local

        return asyncio.run(run_local(settings, demo=True, once=args.exit))
    from bot.run import run

    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
