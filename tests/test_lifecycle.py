from datetime import UTC, datetime, timedelta

import pytest

from domain.lifecycle import (
    Action,
    ActionNotAllowed,
    ExtensionRefused,
    NoteRequired,
    PhotoRequired,
    SameUnit,
    Status,
    allowed_actions,
    apply,
    check_extension,
    next_deadline,
)


def test_new_ticket_can_be_accepted_resolved_rejected_or_transferred() -> None:
    assert set(allowed_actions(Status.RECEIVED)) == {
        Action.ACCEPT,
        Action.RESOLVE,
        Action.REJECT,
        Action.TRANSFER,
    }


def test_accept_moves_to_in_progress_without_a_note() -> None:
    change = apply(Status.RECEIVED, Action.ACCEPT)
    assert (change.before, change.after, change.note) == (
        Status.RECEIVED,
        Status.IN_PROGRESS,
        None,
    )


def test_accepting_twice_is_refused() -> None:
    with pytest.raises(ActionNotAllowed):
        apply(Status.IN_PROGRESS, Action.ACCEPT)


@pytest.mark.parametrize("action", [Action.RESOLVE, Action.REJECT])
@pytest.mark.parametrize("note", [None, "", "  ", "ok"])
def test_resolving_or_rejecting_needs_a_real_note(action: Action, note: str | None) -> None:
    with pytest.raises(NoteRequired):
        apply(Status.IN_PROGRESS, action, note=note)


def test_transfer_needs_another_unit_and_a_reason() -> None:
    with pytest.raises(NoteRequired):
        apply(Status.RECEIVED, Action.TRANSFER, current_unit="a", to_unit="b")
    with pytest.raises(SameUnit):
        apply(Status.RECEIVED, Action.TRANSFER, note="wrong ward", current_unit="a", to_unit="a")
    change = apply(
        Status.RECEIVED, Action.TRANSFER, note=" wrong ward ", current_unit="a", to_unit="b"
    )
    assert change.after is Status.TRANSFERRED
    assert change.note == "wrong ward"
    assert change.to_unit == "b"


def test_transferred_ticket_can_be_accepted_by_the_new_unit() -> None:
    assert apply(Status.TRANSFERRED, Action.ACCEPT).after is Status.IN_PROGRESS


def test_closed_and_rejected_tickets_take_no_official_action() -> None:
    for status in (Status.CLOSED, Status.REJECTED):
        for action in (Action.ACCEPT, Action.RESOLVE, Action.REJECT, Action.TRANSFER):
            with pytest.raises(ActionNotAllowed):
                apply(status, action, note="because", current_unit="a", to_unit="b")


def test_resolved_ticket_can_be_reopened_or_closed() -> None:
    assert apply(Status.RESOLVED, Action.REOPEN).after is Status.REOPENED
    assert apply(Status.RESOLVED, Action.CLOSE).after is Status.CLOSED


def test_resolving_without_a_photo_of_the_result_is_refused() -> None:
    with pytest.raises(PhotoRequired):
        apply(Status.IN_PROGRESS, Action.RESOLVE, note="Đã vá xong ổ gà")
    done = apply(Status.IN_PROGRESS, Action.RESOLVE, note="Đã vá xong ổ gà", photo=True)
    assert done.after is Status.RESOLVED


def test_a_deadline_is_extended_once_while_open_with_a_reason() -> None:
    assert check_extension(Status.IN_PROGRESS, False, 5, "  chờ vật tư ") == "chờ vật tư"
    refusals = [
        (Status.RESOLVED, False, 5, "chờ vật tư", "closed"),
        (Status.IN_PROGRESS, True, 5, "chờ vật tư", "again"),
        (Status.IN_PROGRESS, False, 7, "chờ vật tư", "days"),
        (Status.IN_PROGRESS, False, 5, " x ", "reason"),
    ]
    for status, extended, days, reason, why in refusals:
        with pytest.raises(ExtensionRefused) as refused:
            check_extension(status, extended, days, reason)
        assert refused.value.reason == why
    with pytest.raises(ExtensionRefused) as refused:  # moved now, late would count as in time
        check_extension(Status.IN_PROGRESS, False, 5, "chờ vật tư", overdue=True)
    assert refused.value.reason == "overdue"


def test_the_next_deadline_is_the_receipt_one_until_the_ticket_is_accepted() -> None:
    made = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    receive_by, resolve_by = made + timedelta(hours=8), made + timedelta(days=3)
    for waiting in (Status.RECEIVED, Status.TRANSFERRED, Status.REOPENED):
        assert next_deadline(waiting, receive_by, resolve_by) == ("receipt", receive_by)
    assert next_deadline(Status.IN_PROGRESS, receive_by, resolve_by) == ("resolve", resolve_by)
    assert next_deadline("received", None, resolve_by) == ("resolve", resolve_by)  # older rows
    # Transferred after its resolution deadline: the fresh receipt deadline comes later, and
    # the ticket is late already.
    fresh = resolve_by + timedelta(hours=8)
    assert next_deadline(Status.TRANSFERRED, fresh, resolve_by) == ("resolve", resolve_by)
