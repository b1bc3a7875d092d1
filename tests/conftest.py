"""Shared fixtures. No test may reach the network: any connection outside loopback fails."""

from __future__ import annotations

import gc
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bot.lean_aiogram import import_aiogram_lazily

# As ``python -m bot`` does, so that the suite runs the types the way production builds them.
import_aiogram_lazily()

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # a Unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests must not reach the network (tried {address!r})")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests must not reach the network (tried {address!r})")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield
    # Collect now, so that a leaked session or connection is blamed on the test that leaked it.
    # Then freeze what is left, all of it alive (modules, aiogram's types, the boundaries, the
    # caches): the next collection looks only at what the next test made. Each collection
    # walked the whole heap, 0.2 s of CPU a test, more than the test itself for most.
    gc.collect()
    gc.freeze()


@pytest.fixture
async def world(tmp_path: Any) -> Any:
    from tests.backends import prepare
    from tests.world import start_world, stop_world

    backend = await prepare(tmp_path)
    w = await start_world(backend, tmp_path)
    try:
        yield w
    finally:
        await stop_world(w)
