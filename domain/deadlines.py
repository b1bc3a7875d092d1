"""Deadlines counted in working time, in Hanoi's office hours.

Hanoi's rule (see DESIGN.md): a report is received within 8 working hours (4 if urgent) and
resolved within a number of working days set per category. Office hours here are Monday to
Friday, 08:00-12:00 and 13:00-17:00 Asia/Ho_Chi_Minh. Public holidays are not counted yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
SHIFTS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(13), time(17)))
HOURS_PER_DAY = 8
RECEIVE_HOURS = 8
RESOLVE_DAYS: dict[str, int] = {
    "roads": 10,
    "lighting": 5,
    "waste": 3,
    "drainage": 5,
    "trees": 5,
    "traffic": 5,
    "water": 5,
    "power": 3,
    "pollution": 10,
    "construction": 15,
    "public-order": 5,
    "procedure": 10,
    "conduct": 10,
}
DEFAULT_RESOLVE_DAYS = 10


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The moment ``hours`` of office time after ``start`` (an aware datetime); UTC result."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    local = start.astimezone(HANOI)
    left = timedelta(hours=hours)
    day = local.date()
    while True:
        if day.weekday() < 5:
            for open_at, close_at in SHIFTS:
                begin = datetime.combine(day, open_at, HANOI)
                end = datetime.combine(day, close_at, HANOI)
                begin = max(begin, local)
                if begin >= end:
                    continue
                if begin + left <= end:
                    return (begin + left).astimezone(UTC)
                left -= end - begin
        day += timedelta(days=1)
        local = datetime.combine(day, time(0), HANOI)


def receive_by(created: datetime) -> datetime:
    return add_working_hours(created, RECEIVE_HOURS)


def resolve_by(created: datetime, category: str) -> datetime:
    days = RESOLVE_DAYS.get(category, DEFAULT_RESOLVE_DAYS)
    return add_working_hours(created, days * HOURS_PER_DAY)
