"""Public holidays computed in a child process at start, so the serving process never loads
the ``holidays`` package: with Vietnam's lunar calendar it takes ~17 MB that would stay for
the life of the process, for a few dozen dates a year.

``python -m bot.public_days VN 2025 2026`` prints the days as JSON; :func:`load_apart` runs it
and hands the days to ``domain.deadlines``. When the child fails, the package is loaded in
this process on first need instead, as before (logged); a year outside those asked for is
computed in this process too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterable
from datetime import date

from domain.deadlines import public_days_from_package, remember_public_days

log = logging.getLogger(__name__)
CHILD_TIMEOUT_S = 30.0  # ~0.15 s normally: a child this slow is stuck, and the start goes on


def as_json(country: str, years: Iterable[int]) -> str:
    table = {}
    for year in years:
        days_off, worked = public_days_from_package(country, year)
        table[str(year)] = {
            "off": sorted(d.isoformat() for d in days_off),
            "worked": sorted(d.isoformat() for d in worked),
        }
    return json.dumps(table)


async def load_apart(country: str, years: Iterable[int]) -> bool:
    """Compute ``years`` of ``country`` in a child process and remember them; False (logged)
    when that failed, and the package will be loaded here when a deadline needs it."""
    child: asyncio.subprocess.Process | None = None
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.public_days",
            country,
            *(str(y) for y in years),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT_S)
        if child.returncode != 0:
            raise RuntimeError(err.decode(errors="replace").strip()[-2000:])
        for year, days in json.loads(out).items():
            remember_public_days(
                country,
                int(year),
                (date.fromisoformat(d) for d in days["off"]),
                (date.fromisoformat(d) for d in days["worked"]),
            )
    except Exception as error:
        if child is not None and child.returncode is None:
            child.kill()  # it hung: the start goes on without it
            await child.wait()
        log.warning(
            "public holidays not computed apart (%s: %s); computed here when needed",
            error.__class__.__name__,
            error,
        )
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all(a.isdigit() for a in argv[1:]):
        print("usage: python -m bot.public_days COUNTRY YEAR...", file=sys.stderr)
        return 2
    print(as_json(argv[0], (int(a) for a in argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
