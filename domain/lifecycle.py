"""The ticket lifecycle: which status may follow which, and what each change requires.

Received -> In progress -> Resolved -> Closed, with Rejected and Transferred (both need a reason)
and Reopened. Every change is recorded as an event with who, when and why (see storage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    REOPENED = "reopened"


class Action(StrEnum):
    ACCEPT = "accept"
    RESOLVE = "resolve"
    REJECT = "reject"
    TRANSFER = "transfer"
    CLOSE = "close"
    REOPEN = "reopen"


# Statuses in which the unit still owes the resident an answer.
OPEN: frozenset[Status] = frozenset(
    {Status.RECEIVED, Status.IN_PROGRESS, Status.TRANSFERRED, Status.REOPENED}
)

# Statuses waiting to be taken up (accepted): the receipt deadline runs.
AWAITING_RECEIPT: frozenset[Status] = frozenset(
    {Status.RECEIVED, Status.TRANSFERRED, Status.REOPENED}
)


def next_deadline(
    status: Status | str, receive_by: datetime | None, resolve_by: datetime
) -> tuple[str, datetime]:
    """The deadline an open ticket meets next: ("receipt", its receipt deadline) while it waits
    to be accepted and that deadline comes first; ("resolve", its resolution deadline)
    otherwise (a ticket transferred or reopened after its resolution deadline gets a fresh
    receipt deadline, and is late already). storage.repo.ticket_next_deadline: the same in
    SQL."""
    if Status(status) in AWAITING_RECEIPT and receive_by is not None and receive_by < resolve_by:
        return "receipt", receive_by
    return "resolve", resolve_by


_ALLOWED: dict[Action, frozenset[Status]] = {
    Action.ACCEPT: frozenset({Status.RECEIVED, Status.TRANSFERRED, Status.REOPENED}),
    Action.RESOLVE: OPEN,
    Action.REJECT: OPEN,
    Action.TRANSFER: OPEN,
    Action.CLOSE: frozenset({Status.RESOLVED}),
    Action.REOPEN: frozenset({Status.RESOLVED, Status.CLOSED}),
}

_RESULT: dict[Action, Status] = {
    Action.ACCEPT: Status.IN_PROGRESS,
    Action.RESOLVE: Status.RESOLVED,
    Action.REJECT: Status.REJECTED,
    Action.TRANSFER: Status.TRANSFERRED,
    Action.CLOSE: Status.CLOSED,
    Action.REOPEN: Status.REOPENED,
}

NEEDS_NOTE: frozenset[Action] = frozenset({Action.RESOLVE, Action.REJECT, Action.TRANSFER})
# Residents most often complain that answers come without proof: a resolution shows the result.
NEEDS_PHOTO: frozenset[Action] = frozenset({Action.RESOLVE})
# An official may extend the resolution deadline once, by one of these numbers of working days.
EXTENSION_DAYS: tuple[int, ...] = (2, 5, 10)

NOTE_MIN_LENGTH = 3
NOTE_MAX_LENGTH = 2000


class LifecycleError(Exception):
    """Base of the domain errors a user can cause by acting on a ticket."""


class ActionNotAllowed(LifecycleError):
    def __init__(self, action: Action, status: Status) -> None:
        super().__init__(f"{action} is not allowed in status {status}")
        self.action = action
        self.status = status


class NoteRequired(LifecycleError):
    def __init__(self, action: Action) -> None:
        super().__init__(f"{action} requires a reason or note")
        self.action = action


class SameUnit(LifecycleError):
    """A transfer to the unit that already holds the ticket."""


class PhotoRequired(LifecycleError):
    def __init__(self, action: Action) -> None:
        super().__init__(f"{action} requires a photo of the result")
        self.action = action


class ExtensionRefused(LifecycleError):
    """The deadline was extended already, the ticket is no longer open, or the days are not
    one of EXTENSION_DAYS."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"extension refused: {reason}")
        self.reason = reason  # "closed", "again", "days" or "reason"


@dataclass(frozen=True)
class Change:
    action: Action
    before: Status
    after: Status
    note: str | None
    to_unit: str | None = None


def allowed_actions(status: Status) -> list[Action]:
    return [a for a, before in _ALLOWED.items() if status in before]


def apply(
    status: Status,
    action: Action,
    *,
    note: str | None = None,
    current_unit: str | None = None,
    to_unit: str | None = None,
    photo: bool = False,
) -> Change:
    """Check one change against the rules and describe it; raises a LifecycleError if refused."""
    if status not in _ALLOWED[action]:
        raise ActionNotAllowed(action, status)
    clean = (note or "").strip() or None
    if action in NEEDS_NOTE and (clean is None or len(clean) < NOTE_MIN_LENGTH):
        raise NoteRequired(action)
    if action in NEEDS_PHOTO and not photo:
        raise PhotoRequired(action)
    if action is Action.TRANSFER and (to_unit is None or to_unit == current_unit):
        raise SameUnit(f"cannot transfer to {to_unit!r}")
    if clean is not None:
        clean = clean[:NOTE_MAX_LENGTH]
    return Change(action, status, _RESULT[action], clean, to_unit)


def check_extension(
    status: Status, extended: bool, days: int, reason: str | None, *, overdue: bool = False
) -> str:
    """Check an extension of the resolution deadline; returns the cleaned reason. Without a
    reason (None) only whether an extension may be asked for is checked. An extension is asked
    for before the deadline (``overdue``: it has passed): moved afterwards, a late ticket
    would count as resolved in time."""
    if status not in OPEN:
        raise ExtensionRefused("closed")
    if extended:
        raise ExtensionRefused("again")
    if overdue:
        raise ExtensionRefused("overdue")
    if days not in EXTENSION_DAYS:
        raise ExtensionRefused("days")
    if reason is None:
        return ""
    clean = (reason or "").strip()
    if len(clean) < NOTE_MIN_LENGTH:
        raise ExtensionRefused("reason")
    return clean[:NOTE_MAX_LENGTH]
