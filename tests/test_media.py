import asyncio
import os
import shutil
import time
from pathlib import Path

from storage.media import DirectoryMediaStore


async def test_the_same_photo_stored_twice_at_once_is_kept_once(tmp_path: Path) -> None:
    store = DirectoryMediaStore(tmp_path)
    data = b"\xff\xd8" + b"same picture" * 10_000
    keys = await asyncio.gather(*(store.put(data) for _ in range(20)))
    assert len(set(keys)) == 1
    assert await store.get(keys[0]) == data
    files = await asyncio.to_thread(lambda: [p.name for p in tmp_path.rglob("*") if p.is_file()])
    assert files == [keys[0]]


async def test_a_key_cannot_point_outside_the_media_directory(tmp_path: Path) -> None:
    store = DirectoryMediaStore(tmp_path)
    try:
        await store.get("../../etc/passwd")
    except ValueError:
        return
    raise AssertionError("a path in a key was accepted")


def _age(store: DirectoryMediaStore, key: str, moment: float) -> None:
    os.utime(store._path(key), (moment, moment))


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def _age_all(root: Path, moment: float) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (moment, moment))


async def test_a_photo_stored_again_counts_as_used_again(tmp_path: Path) -> None:
    """The store keeps one file for the same picture: a draft that takes an old picture again
    must make it new, or the sweep would remove the file the new draft names."""
    store = DirectoryMediaStore(tmp_path)
    key = await store.put(b"\xff\xd8 an old picture")
    week_ago = time.time() - 7 * 86400
    _age(store, key, week_ago - 10)
    assert await store.unused_since(week_ago) == [key]
    assert await store.put(b"\xff\xd8 an old picture") == key
    assert await store.unused_since(week_ago) == []
    assert not await store.discard(key, unused_since=week_ago)  # listed before: kept all the same
    assert await store.get(key) == b"\xff\xd8 an old picture"


async def test_an_unused_photo_is_discarded_and_stored_anew_when_it_comes_again(
    tmp_path: Path,
) -> None:
    store = DirectoryMediaStore(tmp_path)
    key = await store.put(b"\xff\xd8 given up")
    fresh = await store.put(b"\xff\xd8 in use")
    week_ago = time.time() - 7 * 86400
    _age(store, key, week_ago - 10)
    assert await store.unused_since(week_ago) == [key]
    assert await store.discard(key, unused_since=week_ago)
    assert not await store.discard(key, unused_since=week_ago)  # gone already
    assert _files(tmp_path) == [fresh]
    assert await store.put(b"\xff\xd8 given up") == key
    assert await store.get(key) == b"\xff\xd8 given up"


async def test_what_a_crash_left_behind_is_tidied_when_old(tmp_path: Path) -> None:
    """A half-written temporary file goes; a photo a crash left moved aside by discard goes
    back to its key (it is looked at again), unless the key was stored anew meanwhile."""
    store = DirectoryMediaStore(tmp_path)
    kept = await store.put(b"\xff\xd8 moved aside")
    again = await store.put(b"\xff\xd8 stored anew")
    folder = store._path(kept).parent
    week_ago = time.time() - 7 * 86400
    half = folder / f".{kept}.0123.tmp"
    half.write_bytes(b"\xff")
    os.replace(store._path(kept), folder / f".{kept}.abcd.gone")
    shutil.copy(store._path(again), store._path(again).parent / f".{again}.ef01.gone")
    _age_all(tmp_path, week_ago - 10)
    assert sorted(await store.unused_since(week_ago)) == sorted([kept, again])
    assert _files(tmp_path) == sorted([kept, again])
    assert await store.get(kept) == b"\xff\xd8 moved aside"
