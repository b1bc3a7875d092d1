"""Leases and marks: how scheduled work runs once although several bot processes run.

A lease names who does a piece of work until when; the holder renews it, and when it lapses
(the process died) another process takes it over: at once when the dead holder ran on the same
machine, in the same PID namespace (a restart after a crash: its pid is no longer running). A
mark records one piece of scheduled work as done (a reminder for one deadline, a day's digest);
it is written in the same transaction as the messages that work queues, so even two processes
that both believed they held the lease (a pause longer than the lease) cannot send the same
reminder twice.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Lease, ScheduledMark

HOLDER_MAX = 64  # characters: leases.holder's length


async def acquire(
    session: AsyncSession, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until now + ttl; False if another
    holder's lease has not lapsed. Commits."""
    renewed = await session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.until < now))
        .values(holder=holder, until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if getattr(renewed, "rowcount", 0):
        await session.commit()
        return True
    try:
        async with session.begin_nested():
            await session.execute(insert(Lease).values(name=name, holder=holder, until=now + ttl))
    except IntegrityError:
        pass  # someone holds it
    else:
        await session.commit()
        return True
    # A holder that died on this machine (a restart after a crash) need not be waited out.
    current = await session.scalar(select(Lease.holder).where(Lease.name == name))
    if current is not None and died_here(current):
        taken = await session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == current)
            .values(holder=holder, until=now + ttl)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0):
            await session.commit()
            return True
    await session.rollback()
    return False


def this_process() -> str:
    """A holder name that says where the process runs: ``host/namespace:pid``, within the
    column's HOLDER_MAX characters (see :func:`_host`)."""
    pid = str(os.getpid())
    return f"{_host(len(pid))}:{pid}"


def _host(pid_length: int) -> str:
    """Where this process's pid means something, as a holder names it, with a pid of
    ``pid_length`` digits: the machine's name and its PID namespace. Containers sharing the
    host's name (host networking) run the bot under the same small pid in their namespaces:
    host:pid named two processes the same holder, both held one lease, and each took the
    other's live one for dead (its pid gone in this namespace).
    A host name may have 64 characters (a Kubernetes pod's is its name, cut to 63), and
    host:pid was then too long for the column: on PostgreSQL no lease could be taken, and the
    outbox and the schedule stood still. Too long, it keeps its start and a hash of the whole
    (pods of one Deployment differ only at the end, and their processes often have the same
    pid)."""
    namespace = _pid_namespace()
    host = socket.gethostname() + (f"/{namespace}" if namespace else "")
    room = HOLDER_MAX - 1 - pid_length
    if len(host) <= room:
        return host
    digest = hashlib.sha256(host.encode()).hexdigest()[:12]
    return f"{host[: room - len(digest) - 1]}~{digest}"


def _pid_namespace() -> str:
    """This process's PID namespace (Linux: the inode of /proc/self/ns/pid); "" elsewhere."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return "".join(c for c in link if c.isdigit())


def died_here(holder: str) -> bool:
    """Whether ``holder`` (``host/namespace:pid``) was a process of this machine and PID
    namespace that is gone."""
    host, _, pid = holder.rpartition(":")
    if not pid.isdigit() or host != _host(len(pid)):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


async def release(session: AsyncSession, name: str, holder: str) -> None:
    await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(until=datetime(1970, 1, 1, tzinfo=UTC))
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def marked(session: AsyncSession, key: str) -> bool:
    """Whether ``key`` was recorded as done."""
    found = await session.scalar(select(ScheduledMark.key).where(ScheduledMark.key == key))
    return found is not None


async def mark_once(session: AsyncSession, key: str, now: datetime) -> bool:
    """Record ``key`` as done in the session's transaction; False if it already was. The
    caller commits it together with what the work queued."""
    try:
        async with session.begin_nested():
            await session.execute(insert(ScheduledMark).values(key=key, at=now))
    except IntegrityError:
        return False
    return True


class LeaseKeeper:
    """Holds one lease for this process: ``held()`` says whether this process may do the work
    now, renewing the lease when a third of it has passed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
        holder: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.ttl = ttl
        self.clock = clock
        self.holder = holder or this_process()
        self._until: datetime | None = None

    async def held(self) -> bool:
        now = self.clock()
        if self._until is not None and now < self._until - self.ttl * 2 / 3:
            return True
        async with self.sessions() as session:
            ok = await acquire(session, self.name, self.holder, now, self.ttl)
        self._until = now + self.ttl if ok else None
        return ok

    async def release(self) -> None:
        if self._until is None:
            return
        self._until = None
        async with self.sessions() as session:
            await release(session, self.name, self.holder)
