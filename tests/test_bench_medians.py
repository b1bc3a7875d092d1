"""The benchmarks' table of medians (bench.__main__.median_of): its verdicts agree with what
it shows."""

from __future__ import annotations

from bench.__main__ import median_of
from bench.table import Result, ratio, verdict


def workers(two: float, one: float) -> Result:
    return Result(
        "2. webhook workers: updates/s, 2 workers",
        two,
        "updates/s",
        one,
        "1 worker",
        ">= 1.5x 1 worker",
        two >= 1.5 * one,
        at_least_ratio=1.5,
    )


def test_a_ratio_target_is_judged_on_the_ratio_the_median_row_shows() -> None:
    """Three runs of the workers' benchmark (2026-12-01): 150.1 against 90.8 (1.65x, met),
    151.7 against 101.7 (1.49x) and 121.3 against 107.7 (1.13x). The table showed the
    medians, 150.1 against 101.7, 1.48x, and "met": the verdict of the run whose figure was
    nearest the median, against its own baseline."""
    row = median_of([workers(150.1, 90.8), workers(151.7, 101.7), workers(121.3, 107.7)])
    assert (row.figure, row.baseline) == (150.1, 101.7)
    assert ratio(row) == "1.48x" and verdict(row) == "MISSED"
    met = median_of([workers(160.0, 100.0), workers(155.0, 101.0), workers(120.0, 99.0)])
    assert ratio(met) == "1.55x" and verdict(met) == "met"


def test_a_target_on_the_figure_alone_keeps_the_median_runs_verdict() -> None:
    """A target on the figure itself ("< 150 ms") follows the run nearest the median."""
    runs = [
        Result("5. photo", ms, "ms", 135.0, "plain", "< 150 ms", ms < 150) for ms in (72, 74, 160)
    ]
    row = median_of(runs)
    assert row.figure == 74 and verdict(row) == "met"
