"""One result row per figure, and the table that prints them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str  # e.g. "4. place -> unit lookups"
    figure: float
    unit: str  # e.g. "lookups/s", "ms", "MB"
    baseline: float | None  # the baseline's figure in the same run, same unit
    baseline_name: str  # e.g. "brute-force polygon scan"
    target: str  # e.g. ">= 100,000/s"
    met: bool | None  # None when there is no target
    detail: str = ""
    # A target on the ratio (figure / baseline at least this): the verdict of a median row is
    # taken on the ratio it shows, not from one run's (bench.__main__.median_of).
    at_least_ratio: float | None = None


def format_number(value: float) -> str:
    """Thousands separated, with decimals only where the number is small enough to need them."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def ratio(result: Result) -> str:
    """figure / baseline, e.g. "0.63x"; "-" where there is no baseline to divide by."""
    if result.baseline is None or result.baseline == 0:
        return "-"
    return f"{result.figure / result.baseline:.2f}x"


def verdict(result: Result) -> str:
    if result.met is None:
        return "-"
    return "met" if result.met else "MISSED"


def rows(results: Sequence[Result]) -> list[list[str]]:
    header = ["benchmark", "figure", "baseline", "ratio", "target", "verdict", "detail"]
    body = [
        [
            r.name,
            f"{format_number(r.figure)} {r.unit}",
            "-"
            if r.baseline is None
            else f"{format_number(r.baseline)} {r.unit} ({r.baseline_name})",
            ratio(r),
            r.target or "-",
            verdict(r),
            r.detail,
        ]
        for r in results
    ]
    return [header, *body]


def print_table(results: Sequence[Result]) -> None:
    """Print the results as an aligned plain-text table."""
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for index, row in enumerate(table):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def markdown_table(results: Sequence[Result]) -> str:
    """The same table in Markdown, for bench/RESULTS.md."""
    table = rows(results)
    lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table[1:]
    ]
    return "\n".join(lines)
