"""Public holidays computed in a child process (bot.public_days): the same days as the package
gives in-process, and the serving process never loads the package (~17 MB)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from bot.public_days import as_json, load_apart
from domain.deadlines import public_days_from_package
from tests.process import run_python


def test_the_childs_table_is_the_packages_days() -> None:
    table = json.loads(as_json("VN", [2026, 2027]))
    for year in (2026, 2027):
        days_off, worked = public_days_from_package("VN", year)
        assert table[str(year)]["off"] == sorted(d.isoformat() for d in days_off)
        assert table[str(year)]["worked"] == sorted(d.isoformat() for d in worked)
    assert "2026-04-30" in table["2026"]["off"]  # Reunification Day


SERVING = """
import asyncio, sys, tempfile
from datetime import UTC, date, datetime
from bot.run import public_days_apart
from bot.settings import Settings
from domain.deadlines import WorkCalendar

asyncio.run(public_days_apart(Settings(_env_file=None, data_dir=tempfile.mkdtemp())))
calendar, year = WorkCalendar(), datetime.now(UTC).year
print(
    calendar.is_working_day(date(year, 4, 30)),  # Reunification Day
    calendar.is_working_day(date(year + 1, 1, 1)),  # New Year's Day
    "holidays" in sys.modules,
)
"""


async def test_the_serving_process_knows_the_holidays_without_loading_the_package() -> None:
    assert (await run_python(SERVING)).split() == ["False", "False", "False"]


async def test_a_failed_child_leaves_the_package_to_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.public_days"):
        assert not await load_apart("XX", [2026])  # no such country in the package
    assert "computed here when needed" in caplog.text


async def test_a_child_that_cannot_start_or_hangs_leaves_the_package_to_this_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.public_days as public_days

    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.WARNING, logger="bot.public_days"):
        assert not await load_apart("VN", [2026])  # raised FileNotFoundError before
    stuck = tmp_path / "stuck-python"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(stuck))
    monkeypatch.setattr(public_days, "CHILD_TIMEOUT_S", 0.5)
    with caplog.at_level(logging.WARNING, logger="bot.public_days"):
        assert not await load_apart("VN", [2026])  # waited for ever before
    assert caplog.text.count("computed here when needed") == 2
