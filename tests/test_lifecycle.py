import pytest

from domain.lifecycle import (
    Action,
    ActionNotAllowed,
    NoteRequired,
    SameUnit,
    Status,
    allowed_actions,
    apply,
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
