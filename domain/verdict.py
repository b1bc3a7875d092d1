"""The resident's verdict on a resolved ticket, and their rating when it closes.

A resolution comes with an after-photo and a note; the resident answers "fixed" (the ticket
closes) or "not fixed" (within a window after the resolution, the ticket reopens and the
supervisors hear of it). Without an answer the ticket closes by itself after some days. On
close the resident rates the answer at one of the three levels residents know from iHanoi.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Verdict(StrEnum):
    FIXED = "fixed"
    NOT_FIXED = "not_fixed"


class Rating(StrEnum):
    SATISFIED = "satisfied"
    ACCEPTABLE = "acceptable"
    UNSATISFIED = "unsatisfied"


RATING_COMMENT_MAX = 1000


@dataclass(frozen=True)
class VerdictRules:
    reopen_window: timedelta = timedelta(days=7)  # "not fixed" reopens until then
    close_after: timedelta = timedelta(days=7)  # no answer by then: the ticket closes

    def may_reopen(self, resolved_at: datetime | None, now: datetime) -> bool:
        return resolved_at is not None and now - resolved_at <= self.reopen_window

    def due_to_close(self, resolved_at: datetime | None, now: datetime) -> bool:
        return resolved_at is not None and now - resolved_at >= self.close_after
