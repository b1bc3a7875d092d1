from datetime import UTC, date, datetime, time

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from domain import categories
from domain.categories import Priority
from domain.deadlines import HANOI, WorkCalendar, add_working_hours, receive_by, resolve_by


def hanoi(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HANOI)


def test_report_on_monday_morning_is_due_the_same_afternoon() -> None:
    # 2026-11-30 is a Monday. 09:00 + 8 working hours with a lunch break -> Tuesday 09:00.
    assert receive_by(hanoi(2026, 11, 30, 9, 0)) == hanoi(2026, 12, 1, 9, 0).astimezone(UTC)


def test_report_on_friday_afternoon_runs_over_the_weekend() -> None:
    # Friday 2026-12-04 16:00: one hour left that day, the other seven on Monday.
    due = add_working_hours(hanoi(2026, 12, 4, 16, 0), 8)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 7, 16, 0)


def test_report_in_the_night_starts_counting_at_eight() -> None:
    due = add_working_hours(hanoi(2026, 12, 1, 22, 30), 4)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 2, 12, 0)


def test_lunch_break_is_not_counted() -> None:
    due = add_working_hours(hanoi(2026, 12, 1, 11, 0), 2)
    assert due.astimezone(HANOI) == hanoi(2026, 12, 1, 14, 0)


def test_resolution_deadline_counts_working_days_of_the_category() -> None:
    # Waste: 3 working days from Wednesday 10:00 -> Monday 10:00.
    due = resolve_by(hanoi(2026, 12, 2, 10, 0), "waste")
    assert due.astimezone(HANOI) == hanoi(2026, 12, 7, 10, 0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_hours(datetime(2026, 12, 1, 9), 1)


# --- The working-time calendar: holidays, make-up days, priorities, configuration ---------------
# Every expected value below is counted by hand in its comment; office hours are 08-12, 13-17.

CALENDAR = WorkCalendar()


def local(moment: datetime) -> datetime:
    return moment.astimezone(HANOI)


def test_the_package_knows_the_holidays_the_tests_rely_on() -> None:
    # If a new release of `holidays` changed these, the hand counts below would be wrong.
    off = [
        date(2026, 4, 26),  # Hùng Kings' day, a Sunday
        date(2026, 4, 27),  # ... observed on Monday
        date(2026, 4, 30),  # Reunification Day, Thursday
        date(2026, 5, 1),  # Labour Day, Friday
        date(2026, 11, 24),  # Vietnam Cultural Day (from 2026), Tuesday
        date(2027, 2, 4),  # Thursday: 29 Tết, in place of mùng 1 falling on Saturday 6
        date(2027, 2, 5),  # Friday: Tết eve
        date(2027, 2, 8),  # Monday: mùng 3
        date(2027, 2, 9),  # Tuesday: mùng 4
        date(2027, 2, 10),  # Wednesday: mùng 5, in place of mùng 2 falling on Sunday 7
    ]
    assert [d for d in off if CALENDAR.is_working_day(d)] == []
    assert CALENDAR.is_working_day(date(2026, 4, 28))
    assert CALENDAR.is_working_day(date(2027, 2, 3))
    assert CALENDAR.is_working_day(date(2027, 2, 11))


def test_a_saturday_swapped_by_the_government_is_worked_and_its_day_off_is_not() -> None:
    # 2026: Monday 31 August off (a bridge to National Day), made up on Saturday 22 August.
    assert CALENDAR.is_working_day(date(2026, 8, 22))
    assert not CALENDAR.is_working_day(date(2026, 8, 31))
    assert not CALENDAR.is_working_day(date(2026, 8, 29))  # an ordinary Saturday


def test_report_on_friday_afternoon_before_hung_kings_day_is_due_on_tuesday() -> None:
    # Friday 2026-04-24 16:00: 1 h that day. Sat 25, Sun 26 (Hùng Kings), Mon 27 (observed): off.
    # Tuesday 28: 08-12 (4 h, 5 in all), 13-16 (3 h, 8) -> Tuesday 16:00.
    due = CALENDAR.receive_by(hanoi(2026, 4, 24, 16, 0))
    assert local(due) == hanoi(2026, 4, 28, 16, 0)


def test_resolution_over_hung_kings_day_and_the_april_holidays_skips_all_five_days_off() -> None:
    # Roads: 10 working days = 80 h from Friday 2026-04-24 16:00.
    # Fri 24: 1 (79 left). Sat-Mon off. Tue 28: 71. Wed 29: 63. Thu 30, Fri 1 May, Sat, Sun: off.
    # Mon 4: 55. Tue 5: 47. Wed 6: 39. Thu 7: 31. Fri 8: 23. Mon 11: 15. Tue 12: 7.
    # Wed 13: 08-12 (3 left), 13-16 -> Wednesday 2026-05-13 16:00.
    due = CALENDAR.resolve_by(hanoi(2026, 4, 24, 16, 0), "roads")
    assert local(due) == hanoi(2026, 5, 13, 16, 0)


def test_report_on_the_last_day_before_tet_2027_is_due_after_tet() -> None:
    # Wednesday 2027-02-03 15:00: 2 h that day (6 left). Thu 4 to Wed 10: Tết and its weekend.
    # Thursday 11: 08-12 (2 left), 13-15 -> Thursday 2027-02-11 15:00.
    due = CALENDAR.receive_by(hanoi(2027, 2, 3, 15, 0))
    assert local(due) == hanoi(2027, 2, 11, 15, 0)


def test_urgent_report_during_tet_is_due_four_hours_after_offices_reopen() -> None:
    # Monday 2027-02-08 09:30 is mùng 3: counting starts Thursday 11 at 08:00; + 4 h -> 12:00.
    due = CALENDAR.receive_by(hanoi(2027, 2, 8, 9, 30), Priority.URGENT)
    assert local(due) == hanoi(2027, 2, 11, 12, 0)


def test_extra_day_off_announced_for_tet_is_not_counted() -> None:
    # Say the government gives Wednesday 2027-02-03 off too. Tuesday 2 at 16:00: 1 h (7 left);
    # Wed 3 to Wed 10 off; Thursday 11: 08-12 (3 left), 13-16 -> Thursday 2027-02-11 16:00.
    calendar = WorkCalendar(extra_days_off=frozenset({date(2027, 2, 3)}))
    due = calendar.receive_by(hanoi(2027, 2, 2, 16, 0))
    assert local(due) == hanoi(2027, 2, 11, 16, 0)


def test_report_at_lunch_time_is_due_at_noon_next_day_not_after_lunch() -> None:
    # Tuesday 2026-12-01 12:30: counting starts at 13:00; 13-17 (4 h, 4 left);
    # Wednesday 2: 08-12 -> exactly at closing, Wednesday 12:00 (not 13:00).
    due = CALENDAR.receive_by(hanoi(2026, 12, 1, 12, 30))
    assert local(due) == hanoi(2026, 12, 2, 12, 0)


def test_report_at_one_minute_to_closing_counts_that_minute() -> None:
    # Tuesday 2026-12-01 16:59: 1 min that day (7 h 59 left); Wednesday 2: 08-12 (3 h 59 left),
    # 13:00 + 3 h 59 -> Wednesday 16:59.
    due = CALENDAR.receive_by(hanoi(2026, 12, 1, 16, 59))
    assert local(due) == hanoi(2026, 12, 2, 16, 59)


def test_report_on_a_saturday_is_due_at_the_end_of_monday() -> None:
    # Saturday 2026-12-05 10:00: nothing counts until Monday 7 at 08:00; 08-12, 13-17 -> 17:00.
    due = CALENDAR.receive_by(hanoi(2026, 12, 5, 10, 0))
    assert local(due) == hanoi(2026, 12, 7, 17, 0)


def test_report_on_an_extra_working_saturday_counts_that_saturday() -> None:
    # Saturday 2026-12-05 made a working day. 10:00: 10-12 (2 h, 6 left), 13-17 (4 h, 2 left);
    # Monday 7: 08-10 -> Monday 10:00.
    calendar = WorkCalendar(extra_working_days=frozenset({date(2026, 12, 5)}))
    due = calendar.receive_by(hanoi(2026, 12, 5, 10, 0))
    assert local(due) == hanoi(2026, 12, 7, 10, 0)


def test_urgent_category_is_received_within_four_working_hours() -> None:
    # A fallen power line, Monday 2026-11-30 10:30: 10:30-12 (1.5 h, 2.5 left), 13:00 + 2.5 h
    # -> Monday 15:30; a normal report at the same moment -> Tuesday 10:30.
    power = categories.get("power")
    assert power is not None and power.priority is Priority.URGENT
    created = hanoi(2026, 11, 30, 10, 30)
    assert local(CALENDAR.receive_by(created, power.priority)) == hanoi(2026, 11, 30, 15, 30)
    assert local(CALENDAR.receive_by(created)) == hanoi(2026, 12, 1, 10, 30)


def test_complex_category_resolves_in_its_fifteen_days_and_skips_cultural_day() -> None:
    # Construction: complex, 15 working days = 120 h, from Monday 2026-11-09 09:00.
    # Mon 9: 7 h (113 left). Tue 10: 105. Wed 11: 97. Thu 12: 89. Fri 13: 81. Mon 16: 73.
    # Tue 17: 65. Wed 18: 57. Thu 19: 49. Fri 20: 41. Mon 23: 33. Tue 24 (Cultural Day): off.
    # Wed 25: 25. Thu 26: 17. Fri 27: 9. Mon 30: 1. Tue 1 Dec: 08:00 + 1 h -> 09:00.
    construction = categories.get("construction")
    assert construction is not None and construction.priority is Priority.COMPLEX
    created = hanoi(2026, 11, 9, 9, 0)
    assert local(CALENDAR.resolve_by(created, "construction")) == hanoi(2026, 12, 1, 9, 0)
    # Extended by 2 days: Wed 2 Dec full (1 left after Tue's 7 h: 9 - 8 = 1) -> Thu 3 09:00.
    extended = CALENDAR.resolve_by(created, "construction", extra_days=2)
    assert local(extended) == hanoi(2026, 12, 3, 9, 0)


def test_unknown_category_gets_the_default_ten_days() -> None:
    # Wednesday 2026-12-02 10:00 + 10 days: Thu 3, Fri 4, Mon 7 ... Tue 15 are days 1-9,
    # Wednesday 16 at 10:00 completes the tenth.
    due = CALENDAR.resolve_by(hanoi(2026, 12, 2, 10, 0), "retired-category")
    assert local(due) == hanoi(2026, 12, 16, 10, 0)


def test_working_hours_between_skip_weekends_and_holidays() -> None:
    # Friday 2026-04-24 16:00 to Monday 2026-05-04 14:00: Fri 1 h; Sat, Sun, Mon 27 (Hùng Kings
    # observed) 0; Tue 28 8; Wed 29 8; Thu 30, Fri 1 May, Sat, Sun 0; Mon 4 08-12, 13-14: 5.
    # 1 + 8 + 8 + 5 = 22.
    start, end = hanoi(2026, 4, 24, 16, 0), hanoi(2026, 5, 4, 14, 0)
    assert CALENDAR.working_hours_between(start, end) == 22
    assert CALENDAR.working_hours_between(end, start) == -22
    # Friday 16:00 to Tuesday 28 10:30: 1 + 2.5 = 3.5; within one lunch break: 0.
    assert CALENDAR.working_hours_between(start, hanoi(2026, 4, 28, 10, 30)) == 3.5
    assert (
        CALENDAR.working_hours_between(hanoi(2026, 12, 1, 12, 5), hanoi(2026, 12, 1, 12, 55)) == 0
    )


@pytest.mark.parametrize("hours", [0.5, 4, 8, 24, 120])
def test_counting_back_a_deadline_gives_the_hours_it_was_set_with(hours: float) -> None:
    # Starts in office hours (or the count would begin later than the start).
    for start in (hanoi(2026, 4, 24, 16, 0), hanoi(2027, 2, 3, 8, 0), hanoi(2026, 8, 21, 11, 45)):
        due = CALENDAR.add_working_hours(start, hours)
        assert CALENDAR.working_hours_between(start, due) == hours


def test_without_public_holidays_hung_kings_observed_monday_is_worked() -> None:
    # Friday 2026-04-24 16:00 + 8 h with no holidays: Fri 1, Monday 27 08-12, 13-16 -> 16:00.
    due = WorkCalendar(country=None).receive_by(hanoi(2026, 4, 24, 16, 0))
    assert local(due) == hanoi(2026, 4, 27, 16, 0)


def test_calendar_refuses_shifts_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="close after"):
        WorkCalendar(shifts=((time(17), time(8)),))
    with pytest.raises(ValueError, match="overlap"):
        WorkCalendar(shifts=((time(8), time(12)), (time(11), time(17))))
    with pytest.raises(ValueError, match="both off and worked"):
        day = frozenset({date(2027, 2, 3)})
        WorkCalendar(extra_days_off=day, extra_working_days=day)
    with pytest.raises(ValueError):
        CALENDAR.add_working_hours(hanoi(2026, 12, 1, 9, 0), -1)
    with pytest.raises(ValueError):
        CALENDAR.working_hours_between(datetime(2026, 12, 1, 9), hanoi(2026, 12, 1, 10, 0))


# --- Settings: OFFICE_HOURS, EXTRA_HOLIDAYS, EXTRA_WORKING_DAYS ---------------------------------


def test_office_hours_from_settings_set_the_length_of_a_working_day() -> None:
    settings = Settings(_env_file=None, office_hours="13:30-17:00, 07:30-11:30")
    assert settings.office_hours == ((time(7, 30), time(11, 30)), (time(13, 30), time(17)))
    calendar = settings.work_calendar()
    assert calendar.day_length.total_seconds() == 7.5 * 3600
    # Waste: 3 days of 7.5 h = 22.5 h from Tuesday 2026-12-01 07:30: Tue 7.5, Wed 7.5, Thu 7.5
    # -> Thursday 3 at 17:00.
    due = calendar.resolve_by(hanoi(2026, 12, 1, 7, 30), "waste")
    assert local(due) == hanoi(2026, 12, 3, 17, 0)


def test_default_settings_give_the_default_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFICE_HOURS", "")
    assert Settings(_env_file=None).work_calendar() == WorkCalendar()


def test_extra_days_are_read_from_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRA_HOLIDAYS", "2027-02-03, 2027-02-11")
    monkeypatch.setenv("EXTRA_WORKING_DAYS", "2027-01-30")
    calendar = Settings(_env_file=None).work_calendar()
    assert calendar.extra_days_off == frozenset({date(2027, 2, 3), date(2027, 2, 11)})
    assert not calendar.is_working_day(date(2027, 2, 11))  # a Thursday
    assert calendar.is_working_day(date(2027, 1, 30))  # a Saturday


@pytest.mark.parametrize(
    "hours", ["nine to five", "08:00-12:00,11:00-17:00", "17:00-08:00", "08:00 12:00"]
)
def test_office_hours_that_make_no_sense_are_refused_saying_what_to_set(hours: str) -> None:
    with pytest.raises(ValidationError, match="OFFICE_HOURS must be shifts"):
        Settings(_env_file=None, office_hours=hours)


def test_a_mistyped_extra_date_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match=r"EXTRA_HOLIDAYS must be dates.*2027-02-30"):
        Settings(_env_file=None, extra_holidays="2027-02-03,2027-02-30")
    with pytest.raises(ValidationError, match="EXTRA_WORKING_DAYS must be dates"):
        Settings(_env_file=None, extra_working_days="30/01/2027")


def test_a_day_both_off_and_worked_is_refused() -> None:
    with pytest.raises(ValidationError, match="both EXTRA_HOLIDAYS and EXTRA_WORKING_DAYS"):
        Settings(_env_file=None, extra_holidays="2027-02-03", extra_working_days="2027-02-03")
