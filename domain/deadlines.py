"""Deadlines counted in working time: Hanoi's office hours, weekends and public holidays.

Hanoi's rule (see DESIGN.md): a report is received within 8 working hours (4 if urgent) and
resolved within a number of working days set per category (``domain/categories.py``). Working
time is office hours, by default Monday to Friday 08:00-12:00 and 13:00-17:00 Asia/Ho_Chi_Minh,
minus Vietnam's public holidays.

Public holidays come from the ``holidays`` package (``country_holidays("VN")``), which follows the
Labour Code 2019, art. 112: New Year's Day; Tết Nguyên Đán, five days (29 or 30 Tết, the eve, then
mùng 1 to mùng 4; a Tết day on a weekend moves to the Friday before or the Monday after, so 2027's
Tết, whose mùng 1 is a Saturday, is off from Thursday 4 to Wednesday 10 February); Hùng Kings'
day (10/3 lunar); 30 April; 1 May; 2 September plus the day before or after; and, from 2026,
Vietnam Cultural Day (24 November). A holiday on a weekend is observed on the next working day.
It also knows the swaps the government announced up to its release (e.g. 2 May 2025 off, worked
on Saturday 26 April 2025), both the day off and the Saturday worked. What it cannot know is a
swap announced after its release: the government announces each year's Tết days and make-up
Saturdays a few months ahead, so a city sets those in EXTRA_HOLIDAYS and EXTRA_WORKING_DAYS
(``bot/settings.py``), which win over the package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from domain import categories
from domain.categories import Priority

# Vietnam has kept UTC+7 without daylight saving since 1975, so a wall-clock time is one instant.
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SHIFTS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(13), time(17)))
MONDAY_TO_FRIDAY = frozenset(range(5))
RECEIVE_HOURS = 8
URGENT_RECEIVE_HOURS = 4
DEFAULT_RESOLVE_DAYS = 10  # a category the calendar does not know (one retired since the report)


def parse_shifts(text: str) -> tuple[tuple[time, time], ...]:
    """Office hours written as ``"08:00-12:00,13:00-17:00"``; ValueError saying what is wrong."""
    shifts: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        opening, dash, closing = part.partition("-")
        if not dash:
            raise ValueError(f"{part!r} is not a range like 08:00-12:00")
        try:
            shifts.append(
                (time.fromisoformat(opening.strip()), time.fromisoformat(closing.strip()))
            )
        except ValueError:
            raise ValueError(f"{part!r} is not a range of two times like 08:00-12:00") from None
    shifts.sort()
    _check_shifts(tuple(shifts))
    return tuple(shifts)


def _check_shifts(shifts: tuple[tuple[time, time], ...]) -> None:
    if not shifts:
        raise ValueError("there must be at least one shift")
    for opening, closing in shifts:
        if opening.tzinfo is not None or closing.tzinfo is not None:
            raise ValueError("office hours are Hanoi wall-clock times, without a UTC offset")
        if opening >= closing:
            raise ValueError(f"a shift must close after it opens ({opening:%H:%M}-{closing:%H:%M})")
    for (_, closing), (opening, _) in pairwise(shifts):
        if opening < closing:
            raise ValueError(
                f"shifts overlap or are out of order ({closing:%H:%M} > {opening:%H:%M})"
            )


PublicDays = tuple[frozenset[date], frozenset[date]]
# (country, year) -> (holidays, weekend days worked to make up for a swap): computed once, or
# given by remember_public_days (the bot computes them in a child process: bot.public_days).
_KNOWN: dict[tuple[str, int], PublicDays] = {}


def _public_days(country: str, year: int) -> PublicDays:
    known = _KNOWN.get((country, year))
    if known is None:
        known = _KNOWN[(country, year)] = public_days_from_package(country, year)
    return known


def public_days_from_package(country: str, year: int) -> PublicDays:
    """(holidays, weekend days worked to make up for a swap) of one year, from ``holidays``."""
    import holidays  # imported here: it and a country's calendar take ~17 MB once loaded

    # A swap may cross the new year (2015's 2 January was made up on Saturday 27 December 2014),
    # so the package is asked for the next year too and both sets are cut to ``year``.
    known = holidays.country_holidays(country, years=(year, year + 1))
    days_off = frozenset(d for d in known if d.year == year)
    worked = frozenset(d for d in known.weekend_workdays if d.year == year)
    return days_off, worked


def remember_public_days(
    country: str, year: int, days_off: Iterable[date], worked: Iterable[date]
) -> None:
    """Use these days of ``year`` instead of asking the ``holidays`` package for them."""
    _KNOWN[(country, year)] = (frozenset(days_off), frozenset(worked))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment must be timezone-aware")
    return moment.astimezone(HANOI)


@dataclass(frozen=True)
class WorkCalendar:
    """When officials work: shifts on working days, minus holidays, plus make-up days.

    A day is a working day when it is in ``extra_working_days``, or else when it is not in
    ``extra_days_off`` nor a public holiday of ``country`` and is either one of ``weekdays``
    (0 = Monday) or a weekend day the government made a working day. ``country=None`` counts no
    public holidays at all.
    """

    shifts: tuple[tuple[time, time], ...] = SHIFTS
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    country: str | None = "VN"

    def __post_init__(self) -> None:
        _check_shifts(self.shifts)
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("weekdays must be some of 0 (Monday) to 6 (Sunday)")
        both = self.extra_days_off & self.extra_working_days
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"a day cannot be both off and worked: {listed}")

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (8 hours by default)."""
        return sum(
            (
                _since_midnight(closing) - _since_midnight(opening)
                for opening, closing in self.shifts
            ),
            timedelta(),
        )

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off:
            return False
        if self.country is not None:
            days_off, worked = _public_days(self.country, day.year)
            if day in days_off:
                return False
            if day in worked:
                return True
        return day.weekday() in self.weekdays

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start`` (aware), in UTC.

        Counting starts at ``start`` when it is in office hours, else at the next opening; a
        deadline that falls exactly at a closing time is that closing time, not the next opening.
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        moment = _aware(start)
        left = timedelta(hours=hours)
        day = moment.date()
        whole_day = self.day_length
        while True:
            if self.is_working_day(day):
                if moment <= _on(day, self.shifts[0][0]) and left > whole_day:
                    left -= whole_day  # a whole day at once: the usual case of a long deadline
                else:
                    for opening, closing in self.shifts:
                        begin = max(_on(day, opening), moment)
                        end = _on(day, closing)
                        if begin >= end:
                            continue
                        if begin + left <= end:
                            return (begin + left).astimezone(UTC)
                        left -= end - begin
            day += timedelta(days=1)
            moment = _on(day, time(0))

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (both aware); negative when ``end`` is earlier.

        For statistics: how long a unit took to receive or resolve a report, or how late it was.
        """
        first, last = _aware(start), _aware(end)
        if last < first:
            return -self.working_hours_between(end, start)
        total = timedelta()
        whole_day = self.day_length
        day = first.date()
        while day <= last.date():
            if self.is_working_day(day):
                if first.date() < day < last.date():
                    total += whole_day
                else:
                    for opening, closing in self.shifts:
                        begin = max(_on(day, opening), first)
                        finish = min(_on(day, closing), last)
                        if begin < finish:
                            total += finish - begin
            day += timedelta(days=1)
        return total / timedelta(hours=1)

    def receive_by(self, created: datetime, priority: Priority = Priority.NORMAL) -> datetime:
        """When a report must be received: 8 working hours, 4 if urgent (UTC)."""
        hours = URGENT_RECEIVE_HOURS if priority is Priority.URGENT else RECEIVE_HOURS
        return self.add_working_hours(created, hours)

    def resolve_by(self, created: datetime, category_code: str, extra_days: int = 0) -> datetime:
        """When a report must be resolved: its category's working days, plus ``extra_days``
        (an extension granted to the unit), each as long as this calendar's working day (UTC)."""
        if extra_days < 0:
            raise ValueError("extra_days must not be negative")
        category = categories.get(category_code)
        days = category.resolve_days if category is not None else DEFAULT_RESOLVE_DAYS
        hours = (days + extra_days) * self.day_length / timedelta(hours=1)
        return self.add_working_hours(created, hours)


def _on(day: date, at: time) -> datetime:
    return datetime.combine(day, at, HANOI)


def _since_midnight(at: time) -> timedelta:
    return timedelta(
        hours=at.hour, minutes=at.minute, seconds=at.second, microseconds=at.microsecond
    )


DEFAULT_CALENDAR = WorkCalendar()


# The functions below predate WorkCalendar; they use the default calendar until every caller
# takes the calendar built from the settings.
def add_working_hours(start: datetime, hours: float) -> datetime:
    return DEFAULT_CALENDAR.add_working_hours(start, hours)


def receive_by(created: datetime, priority: Priority = Priority.NORMAL) -> datetime:
    return DEFAULT_CALENDAR.receive_by(created, priority)


def resolve_by(created: datetime, category: str) -> datetime:
    return DEFAULT_CALENDAR.resolve_by(created, category)
