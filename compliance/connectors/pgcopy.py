"""Reading a PostgreSQL ``COPY ... TO STDOUT`` in large blocks, for exports.

psycopg's ``Copy.read()`` hands over one row per call, each through its wait
machinery: with a million rows, that per-row Python work was most of an export's
time (profiled in docs/benchmarks.md), more than PostgreSQL's own work. Here the
rows are taken from libpq in a tight loop through the connection's low-level
interface (``Connection.pgconn``, documented for features psycopg does not wrap)
and passed on in blocks. The statement's start, errors and end are handled as
psycopg handles them for ``Copy``: an error from the server is raised as the same
psycopg exception; when the consumer fails mid-way, the statement is cancelled
and the rest of its output drained, so the connection stays usable.
"""

from __future__ import annotations

import logging
import selectors
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors, pq

BLOCK_SIZE = 256 * 1024

logger = logging.getLogger(__name__)


def copy_out(
    connection: psycopg.Connection,
    sql: str,
    params: Sequence[Any],
    write: Callable[[bytes], object],
    *,
    block_size: int = BLOCK_SIZE,
) -> int:
    """Run ``sql`` (a ``COPY ... TO STDOUT`` with ``%s`` placeholders), pass its output to ``write``.

    The values are bound on the client, as psycopg binds them for ``Cursor.copy()``
    (a ``COPY`` takes no server-side parameters).

    ``write`` receives blocks of about ``block_size`` bytes made of whole rows, in
    order. Returns the number of rows the server reports copied.
    """
    pgconn = connection.pgconn
    encoding = connection.info.encoding
    if pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
        raise errors.ProgrammingError("the connection is busy with another statement")
    query = psycopg.ClientCursor(connection).mogrify(sql, params)
    pgconn.send_query(query.encode(encoding))
    with selectors.DefaultSelector() as selector:
        _flush(pgconn, selector)
        selector.register(pgconn.socket, selectors.EVENT_READ)
        started = _next_result(pgconn, selector)
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            _drain_results(pgconn, selector)
            if started is not None and started.status == pq.ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(started, encoding=encoding)
            raise errors.ProgrammingError("copy_out() takes a COPY ... TO STDOUT statement only")
        try:
            _read_blocks(pgconn, selector, write, block_size)
        except BaseException:
            _abandon(connection, selector)
            raise
        results = _drain_results(pgconn, selector)
    failed = [result for result in results if result.status != pq.ExecStatus.COMMAND_OK]
    if failed or not results:
        if failed and failed[0].status == pq.ExecStatus.FATAL_ERROR:
            raise errors.error_from_result(failed[0], encoding=encoding)
        raise errors.ProgrammingError("COPY ended without its final result")
    return results[0].command_tuples or 0


def _read_blocks(
    pgconn: pq.abc.PGconn, selector: selectors.BaseSelector, write: Callable[[bytes], Any], block_size: int
) -> None:
    get_copy_data = pgconn.get_copy_data
    block = bytearray()
    while True:
        size, data = get_copy_data(1)
        if size > 0:
            block += data
            if len(block) >= block_size:
                write(bytes(block))
                block.clear()
        elif size == 0:  # no whole row received yet
            selector.select()
            pgconn.consume_input()
        else:  # -1: the end of the data (an error, if any, is in the final result)
            break
    if block:
        write(bytes(block))


def _flush(pgconn: pq.abc.PGconn, selector: selectors.BaseSelector) -> None:
    registered = False
    while pgconn.flush() == 1:
        if not registered:
            selector.register(pgconn.socket, selectors.EVENT_WRITE)
            registered = True
        selector.select()
    if registered:
        selector.unregister(pgconn.socket)


def _next_result(pgconn: pq.abc.PGconn, selector: selectors.BaseSelector) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        selector.select()
        pgconn.consume_input()
    return pgconn.get_result()


def _drain_results(pgconn: pq.abc.PGconn, selector: selectors.BaseSelector) -> list[pq.abc.PGresult]:
    results = []
    while (result := _next_result(pgconn, selector)) is not None:
        results.append(result)
    return results


def _abandon(connection: psycopg.Connection[Any], selector: selectors.BaseSelector) -> None:
    """After the consumer failed: cancel the statement and read what is left, keeping the connection usable."""
    pgconn = connection.pgconn
    try:
        if pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
            return
        connection.cancel_safe(timeout=5.0)
        while (size := pgconn.get_copy_data(1)[0]) != -1:
            if size == 0:
                selector.select()
                pgconn.consume_input()
        _drain_results(pgconn, selector)
    except Exception as exc:  # the consumer's error is the one to raise
        logger.warning("error ignored ending an abandoned COPY: %s", type(exc).__name__)
