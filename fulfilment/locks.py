"""One worker at a time on a piece of work, across machines, without a lease to expire.

A step's work (an export of one system, an erasure chain, a bundle assembly)
can take minutes, longer than a database transaction should stay open. On
PostgreSQL a session-level advisory lock on the back office database is held
for the duration instead: a second worker given the same work (a redelivered
message) sees it taken and leaves; a worker that dies loses its connection,
and with it the lock, so the redelivered message can take over at once.
SQLite (the single-machine demo) has no such lock; there the steps' own
idempotence is the only guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Yield True when this process holds the lock ``name`` (False: another worker has it)."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
