"""The cycle collector is settled once after start-up (bot.collector): what start-up left alive
is frozen out of its walks, and garbage from start-up is collected first, not frozen for good."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.collector import settle_collector


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()


def walked(obj: object) -> bool:
    return any(o is obj for generation in range(3) for o in gc.get_objects(generation))


@pytest.mark.usefixtures("collector_restored")
def test_start_up_objects_are_frozen_and_its_garbage_collected_first() -> None:
    kept = Node()
    garbage = Node()
    freed = weakref.ref(garbage)
    del garbage
    assert walked(kept)

    frozen = settle_collector()

    assert frozen > 0 and gc.get_freeze_count() == frozen
    assert not walked(kept)  # in the permanent generation: never walked again
    assert freed() is None  # collected before the freeze, not kept forever

    later = Node()  # what updates allocate is still collected as usual
    assert walked(later)
