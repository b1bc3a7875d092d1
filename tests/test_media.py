import asyncio
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
