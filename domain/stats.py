"""Statistics people look at: the period asked for, the figures, and the ranking of units.

Definitions (the same ones the /stats footnote states):

- The period selects the tickets *received* in it (``created_at``), in Hanoi time.
- On-site versus administrative follows the category's group (``domain/categories.py``).
- Resolved: the ticket has ``resolved_at`` set and is resolved or closed now.
- On time: resolved with ``resolved_at <= resolve_by``. Late: resolved after ``resolve_by``, or
  still open (received, in progress, transferred, reopened) past ``resolve_by`` when the figures
  are asked for. On-time rate = on time / (on time + late); rejected tickets and open ones still
  within their deadline count in neither.
- Time to resolve: ``resolved_at - created_at`` of resolved tickets; the median and the 90th
  percentile interpolate linearly between ranks (PostgreSQL's ``percentile_cont``).
- Satisfaction: ratings 'satisfied' / 'acceptable' / 'unsatisfied' among the rated tickets.
- Ranking: every unit with a ticket in the period, the worst on-time rate first, ties broken by
  more late tickets; units with nothing due yet come last. Units equal on both share a place,
  and the next place skips as many (1, 1, 3); among them, the busier is listed first.

Periods: ``/stats`` (the last 30 days), ``/stats 7`` (the last 7 days), ``/stats 2026-11`` (a
month), ``/stats 2026`` (a year), ``/stats 2026-10-01 2026-10-31`` (both days included).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_DAYS = 30
MAX_DAYS = 999  # three digits at most: four digits are a year
RATINGS = ("satisfied", "acceptable", "unsatisfied")


class PeriodProblem(StrEnum):
    FORMAT = "format"  # not one of the shapes above
    DAYS = "days"  # a number of days out of 1..MAX_DAYS
    DATE = "date"  # a date that does not exist (2026-02-30, month 13)
    ORDER = "order"  # the end before the start
    FUTURE = "future"  # starts after today


class PeriodError(ValueError):
    def __init__(self, problem: PeriodProblem, text: str) -> None:
        super().__init__(f"{problem}: {text!r}")
        self.problem = problem
        self.text = text


@dataclass(frozen=True)
class Period:
    """Tickets received in [start, end) (UTC), and how to name the period to people."""

    start: datetime
    end: datetime
    first_day: date  # in Hanoi
    last_day: date  # in Hanoi, included
    days: int | None = None  # "the last N days", when asked that way

    def label(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.first_day:%d/%m/%Y}"
        return f"{self.first_day:%d/%m/%Y} – {self.last_day:%d/%m/%Y}"


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=HANOI).astimezone(UTC)


def _between(first: date, last: date) -> Period:
    return Period(_day_start(first), _day_start(last + timedelta(days=1)), first, last)


_DAYS = re.compile(r"\d{1,3}")
_YEAR = re.compile(r"(\d{4})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def _date(text: str, original: str) -> date:
    found = _DAY.fullmatch(text)
    if not found:
        raise PeriodError(PeriodProblem.FORMAT, original)
    try:
        day = date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise PeriodError(PeriodProblem.DATE, original) from None
    if not 2000 <= day.year <= 2100:  # as a year or a month: 9999-12-31 overflowed in UTC
        raise PeriodError(PeriodProblem.DATE, original)
    return day


def parse_period(text: str, now: datetime) -> Period:
    """The period a person typed after /stats (or /export), relative to ``now`` (aware)."""
    original = text
    words = text.replace("–", " ").replace("—", " ").split()
    today = now.astimezone(HANOI).date()
    if len(words) == 0 or (len(words) == 1 and _DAYS.fullmatch(words[0])):
        days = int(words[0]) if words else DEFAULT_DAYS
        if not 1 <= days <= MAX_DAYS:
            raise PeriodError(PeriodProblem.DAYS, original)
        start = now - timedelta(days=days)
        first = start.astimezone(HANOI).date()
        return Period(start.astimezone(UTC), now.astimezone(UTC), first, today, days)
    if len(words) == 2:
        first, last = _date(words[0], original), _date(words[1], original)
        if last < first:
            raise PeriodError(PeriodProblem.ORDER, original)
        period = _between(first, last)
    elif len(words) == 1 and (year := _YEAR.fullmatch(words[0])):
        if not 2000 <= int(year[1]) <= 2100:
            raise PeriodError(PeriodProblem.DATE, original)
        period = _between(date(int(year[1]), 1, 1), date(int(year[1]), 12, 31))
    elif len(words) == 1 and (month := _MONTH.fullmatch(words[0])):
        y, m = int(month[1]), int(month[2])
        if not (1 <= m <= 12 and 2000 <= y <= 2100):
            raise PeriodError(PeriodProblem.DATE, original)
        following = date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)
        period = _between(date(y, m, 1), following - timedelta(days=1))
    elif len(words) == 1 and _DAY.fullmatch(words[0]):
        day = _date(words[0], original)
        period = _between(day, day)
    else:
        raise PeriodError(PeriodProblem.FORMAT, original)
    if period.first_day > today:
        raise PeriodError(PeriodProblem.FUTURE, original)
    return period


# -- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What happened to the tickets received in a period (see the module's definitions)."""

    received: int = 0
    on_site: int = 0
    administrative: int = 0
    resolved: int = 0
    on_time: int = 0
    late: int = 0
    satisfied: int = 0
    acceptable: int = 0
    unsatisfied: int = 0

    @property
    def rated(self) -> int:
        return self.satisfied + self.acceptable + self.unsatisfied

    @property
    def on_time_rate(self) -> float | None:
        return on_time_rate(self.on_time, self.late)

    def share(self, part: int, whole: int | None = None) -> float | None:
        """``part`` as a percentage of ``whole`` (the tickets received by default)."""
        total = self.received if whole is None else whole
        return None if total == 0 else 100.0 * part / total


@dataclass(frozen=True)
class Summary:
    counts: Counts
    median_seconds: float | None  # time to resolve
    p90_seconds: float | None


@dataclass(frozen=True)
class UnitFigures:
    """One line of the ranking."""

    unit_code: str
    counts: Counts

    @property
    def on_time_rate(self) -> float | None:
        return self.counts.on_time_rate


def total(units: Iterable[UnitFigures]) -> Counts:
    """The city's counts: the sum of its units' (each ticket belongs to one unit)."""
    names = [f.name for f in fields(Counts)]
    sums = dict.fromkeys(names, 0)
    for figures in units:
        for name in names:
            sums[name] += getattr(figures.counts, name)
    return Counts(**sums)


def on_time_rate(on_time: int, late: int) -> float | None:
    """On time / (on time + late), in percent; None while nothing was due."""
    due = on_time + late
    return None if due == 0 else 100.0 * on_time / due


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) of ``values`` with linear interpolation between the closest
    ranks: what PostgreSQL's ``percentile_cont(q)`` returns. None for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside 0..1")
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)


def ranks_needed(count: int, q: float) -> tuple[int, int, float]:
    """For ``count`` sorted values: the two 0-based ranks to read for the q-th quantile and the
    weight of the second (so a database can read two rows instead of sorting them all out)."""
    position = q * (count - 1)
    low = math.floor(position)
    return low, min(low + 1, count - 1), position - low


def standing(figures: UnitFigures) -> tuple[int, float, int]:
    """What a unit's place rests on: its on-time rate, then its late tickets (more is worse).
    Equal rates compare equal: 100·on_time and the number due are exact, and the division is
    correctly rounded, so 1/2 and 5/10 are the same float."""
    rate = figures.on_time_rate
    return (
        1 if rate is None else 0,  # nothing due yet: after every unit with a rate
        rate if rate is not None else 0.0,
        -figures.counts.late,
    )


def ranking_key(figures: UnitFigures) -> tuple[int, float, int, int, str]:
    """The order units are listed in: by standing; units sharing a place busier first, then
    by code. Only an order to read them in: the place is the standing's (see ``placed``)."""
    return (*standing(figures), -figures.counts.received, figures.unit_code)


def rank(units: Iterable[UnitFigures]) -> list[UnitFigures]:
    """Worst on-time rate first, then more late tickets first (see ``ranking_key``)."""
    return sorted(units, key=ranking_key)


def placed(ranking: Sequence[UnitFigures]) -> list[tuple[int, UnitFigures]]:
    """Each unit of ``ranking`` with its 1-based place (1 = the worst on-time rate). Units of
    the same standing share a place and the next one skips as many (1, 1, 3): a unit with a
    perfect record is not told it ranks below another perfect one for having handled more."""
    result: list[tuple[int, UnitFigures]] = []
    for index, figures in enumerate(ranking, start=1):
        if result and standing(result[-1][1]) == standing(figures):
            result.append((result[-1][0], figures))
        else:
            result.append((index, figures))
    return result


def place_of(ranking: Sequence[UnitFigures], unit_code: str) -> int | None:
    """The unit's place in the ranking (shared with the units it ties with), or None."""
    for place, figures in placed(ranking):
        if figures.unit_code == unit_code:
            return place
    return None


def days_hours(seconds: float) -> tuple[int, int]:
    """A duration as whole days and hours (rounded to the nearest hour)."""
    hours = round(seconds / 3600)
    return hours // 24, hours % 24


def percent(value: float | None) -> str:
    """``97.4%`` (one decimal), or an en dash when there is nothing to divide."""
    return "–" if value is None else f"{value:.1f}%"
