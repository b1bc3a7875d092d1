"""Charts for /stats, drawn with matplotlib into PNG bytes, without a display.

The Agg backend is chosen before pyplot is imported, so a server with no display (and no Tk)
draws the same pictures as a desktop. DejaVu Sans, shipped with matplotlib, has every
Vietnamese letter with its tone marks.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a server

import matplotlib.pyplot as plt  # (after the backend is chosen)
from matplotlib.figure import Figure

FONT: Any = {"font.family": "DejaVu Sans", "font.size": 10}
RED, AMBER, GREEN, GREY = "#c0392b", "#e67e22", "#27ae60", "#95a5a6"


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def _colour(rate: float | None) -> str:
    if rate is None:
        return GREY
    if rate < 80:
        return RED
    if rate < 95:
        return AMBER
    return GREEN


def ranking_chart(
    title: str,
    names: Sequence[str],
    rates: Sequence[float | None],
    late: Sequence[int],
    *,
    rate_label: str,
    late_label: str,
) -> bytes:
    """Horizontal bars of the on-time rate, the worst at the top, with late tickets noted."""
    with plt.rc_context(FONT):
        height = 1.2 + 0.38 * max(1, len(names))
        figure, axes = plt.subplots(figsize=(8, height))
        positions = list(range(len(names)))[::-1]
        values = [0.0 if r is None else r for r in rates]
        axes.barh(positions, values, color=[_colour(r) for r in rates])
        axes.set_yticks(positions, labels=list(names))
        axes.set_xlim(0, 112)
        axes.set_xlabel(rate_label)
        axes.set_title(title, loc="left", fontweight="bold")
        for y, rate, count in zip(positions, rates, late, strict=True):
            shown = "–" if rate is None else f"{rate:.1f}%"
            axes.text(
                min(values[positions.index(y)], 100) + 1,
                y,
                f"{shown} · {count} {late_label}",
                va="center",
                fontsize=8,
            )
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def summary_chart(
    title: str, labels: Sequence[str], values: Sequence[int], colours: Sequence[str] | None = None
) -> bytes:
    """Vertical bars of a few counts (for a unit: received, resolved, on time, late)."""
    with plt.rc_context(FONT):
        figure, axes = plt.subplots(figsize=(7, 3.6))
        bars = axes.bar(list(labels), list(values), color=list(colours or [GREY] * len(values)))
        axes.bar_label(bars, labels=[f"{v:,}".replace(",", ".") for v in values], padding=2)
        axes.set_title(title, loc="left", fontweight="bold")
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_ylim(0, max([1, *values]) * 1.18)
        return _png(figure)
