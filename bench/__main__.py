"""``python -m bench [names...] [--quick] [--repeat N]``: run the benchmarks, print one table.

The modules run in this order: e2e, floor, workers, storage, lookups, photos, memory, kills
(or the ``names`` given). Each exposes ``run(quick: bool) -> list[Result]``; each is run
``--repeat`` times and the table shows the median of every figure (and of its baseline) over
the runs, since the machines this runs on are shared and noisy.

A module is skipped, with the reason printed, when it is not there, or when a service it needs
is not reachable. A module says what it needs with ``SERVICES = ("postgresql", "redis")``
(probed at BENCH_POSTGRES_URL / BENCH_REDIS_URL, by default the test suite's addresses), and
may add its own check as ``def unavailable() -> str | None`` (a reason, or None to go ahead).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from bench.table import Result, format_number, markdown_table, print_table

ORDER = ("e2e", "floor", "workers", "storage", "lookups", "photos", "memory", "kills")
SERVICE_URLS = {
    "postgresql": os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "redis": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
}
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379}


def unreachable(service: str) -> str | None:
    """Why ``service`` cannot be used (a TCP connection to its address fails), or None."""
    url = SERVICE_URLS.get(service)
    if url is None:
        return f"unknown service {service!r}"
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[service]
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as error:
        return f"{service} at {host}:{port} is not reachable ({error.__class__.__name__})"


def load(name: str) -> tuple[ModuleType | None, str]:
    """The module ``bench.<name>``, or None and the reason it cannot run."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"bench.{name}":
            return None, f"bench/{name}.py is not there"
        raise
    if not callable(getattr(module, "run", None)):
        return None, f"bench/{name}.py has no run(quick) function"
    for service in getattr(module, "SERVICES", ()):
        reason = unreachable(service)
        if reason:
            return None, reason
    check: Callable[[], str | None] | None = getattr(module, "unavailable", None)
    if check is not None:
        reason = check()
        if reason:
            return None, reason
    return module, ""


def median_of(runs: Sequence[Result]) -> Result:
    """One result whose figure and baseline are the medians over ``runs`` of the same row."""
    figure = statistics.median(r.figure for r in runs)
    baselines = [r.baseline for r in runs if r.baseline is not None]
    met = [r.met for r in runs if r.met is not None]
    # The verdict follows the median run: the run whose figure is nearest to the median.
    nearest = min(runs, key=lambda r: abs(r.figure - figure))
    detail = nearest.detail
    if len(runs) > 1:
        low, high = min(r.figure for r in runs), max(r.figure for r in runs)
        spread = f"{len(runs)} runs: {format_number(low)}..{format_number(high)}"
        detail = f"{detail}; {spread}" if detail else spread
    baseline = statistics.median(baselines) if baselines else None
    verdict = nearest.met if met else None
    if nearest.at_least_ratio is not None and baseline:
        # The ratio shown is the medians' (a run's ratio, with its own baseline, may be on
        # the other side of the target: 150.1 against 90.8 "met" beside 1.48x shown).
        verdict = figure / baseline >= nearest.at_least_ratio
    return replace(nearest, figure=figure, baseline=baseline, met=verdict, detail=detail)


def medians(runs: Sequence[list[Result]]) -> list[Result]:
    """Row by row (matched by name, in the first run's order), the medians over the runs."""
    by_name: dict[str, list[Result]] = {}
    for results in runs:
        for result in results:
            by_name.setdefault(result.name, []).append(result)
    return [median_of(rows) for rows in by_name.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: {' '.join(ORDER)})")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each benchmark (median)")
    parser.add_argument(
        "--markdown", metavar="FILE", help="also write the machine and the table of medians here"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ORDER]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    chosen = [n for n in ORDER if not args.names or n in args.names]
    print(f"Benchmarks on {os.cpu_count()} cores; each run {args.repeat} time(s), medians shown.")
    table: list[Result] = []
    for name in chosen:
        module, reason = load(name)
        if module is None:
            print(f"[{name}] skipped: {reason}", flush=True)
            continue
        runs: list[list[Result]] = []
        for attempt in range(1, args.repeat + 1):
            started = time.perf_counter()
            try:
                results: list[Result] = module.run(args.quick)
            except Exception:  # one broken benchmark must not lose the others' figures
                traceback.print_exc()
                print(f"[{name}] run {attempt}/{args.repeat} failed; its figures are left out")
                continue
            took = time.perf_counter() - started
            print(f"[{name}] run {attempt}/{args.repeat} took {took:.1f} s", flush=True)
            print_table(results)
            runs.append(results)
        table.extend(medians(runs))
    print()
    print_table(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(f"{machine()}; {args.repeat} run(s) each, medians\n\n")
            out.write(markdown_table(table) + "\n")
    return 0


def machine() -> str:
    """Cores, CPU model, date and commit: what a figure needs beside it to mean something."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{os.cpu_count()} cores ({model}), {date}, commit {commit or 'unknown'}"


if __name__ == "__main__":
    sys.exit(main())
