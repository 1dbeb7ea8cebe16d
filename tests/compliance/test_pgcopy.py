"""Reading PostgreSQL COPY output in blocks (exports), and the two formats exported side by side."""

import csv
import io
import json
import threading

import psycopg
import pytest
from django.db import connections, transaction

from compliance.connectors import Subject
from compliance.connectors.pgcopy import copy_out
from tests.compliance.datamap_fixtures import BOTH_PLATFORMS, MemorySink

ROWS = "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, %s) g) TO STDOUT WITH (FORMAT csv)"


def _raw():
    connection = connections["platform"]
    connection.ensure_connection()
    return connection.connection


def _select_one() -> int:
    with connections["platform"].cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


@pytest.mark.django_db(databases=["default", "platform"])
def test_copy_out_hands_over_whole_rows_in_blocks_and_counts_them():
    blocks = []
    rows = copy_out(_raw(), ROWS, [5000], blocks.append, block_size=64 * 1024)

    assert rows == 5000
    assert len(blocks) > 5
    assert all(block.endswith(b"\n") for block in blocks)
    assert all(len(block) >= 64 * 1024 for block in blocks[:-1])
    lines = b"".join(blocks).decode().splitlines()
    assert lines[0] == "1," + "x" * 100
    assert [int(line.split(",")[0]) for line in lines] == list(range(1, 5001))


@pytest.mark.django_db(databases=["default", "platform"])
def test_a_failing_consumer_cancels_the_copy_and_the_connection_stays_usable():
    def fail(block):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"), transaction.atomic(using="platform"):
        copy_out(_raw(), ROWS, [2_000_000], fail, block_size=64 * 1024)

    assert _raw().pgconn.transaction_status != psycopg.pq.TransactionStatus.ACTIVE
    assert _select_one() == 1


@pytest.mark.django_db(databases=["default", "platform"])
def test_an_error_from_the_server_mid_copy_is_raised_and_the_connection_stays_usable():
    blocks = []
    with pytest.raises(psycopg.errors.DivisionByZero), transaction.atomic(using="platform"):
        copy_out(_raw(), "COPY (SELECT 1 / (g - 30000) FROM generate_series(1, 40000) g) TO STDOUT", [], blocks.append)

    assert _select_one() == 1


@pytest.mark.django_db(databases=["default", "platform"])
def test_a_statement_that_is_not_a_copy_is_refused():
    with pytest.raises(psycopg.ProgrammingError, match="COPY"):
        copy_out(_raw(), "SELECT 1", [], lambda block: None)

    assert _select_one() == 1


class _ThreadRecordingSink(MemorySink):
    """A memory sink that also notes which thread wrote each stream."""

    def __init__(self):
        super().__init__()
        self.threads: dict[tuple[str, str], set[str]] = {}

    def open_stream(self, table, fmt):
        context = super().open_stream(table, fmt)
        sink = self

        class Recording:
            def __enter__(self):
                stream = context.__enter__()
                original = stream.write

                def write(data):
                    sink.threads.setdefault((table.table_name, fmt), set()).add(threading.current_thread().name)
                    return original(data)

                stream.write = write
                return stream

            def __exit__(self, *exc):
                return context.__exit__(*exc)

        return Recording()


@pytest.mark.django_db(databases=BOTH_PLATFORMS, transaction=True)
def test_outside_a_transaction_both_formats_are_copied_at_once_with_the_same_rows(pg_platform):
    account = pg_platform.objects("Account").order_by("pk").first()
    expected = sorted(pg_platform.objects("ApiRequest").filter(account_id=account.pk).values_list("pk", flat=True))
    assert expected

    sink = _ThreadRecordingSink()
    counts = {c.table_name: c.rows for c in pg_platform.connector.export(Subject(account_ref=str(account.pk)), sink)}

    assert counts["api_requests"] == len(expected)
    from_jsonl = sorted(json.loads(line)["id"] for line in sink.text("api_requests", "jsonl").splitlines())
    from_csv = sorted(int(row["id"]) for row in csv.DictReader(io.StringIO(sink.text("api_requests", "csv"))))
    assert from_jsonl == from_csv == expected
    # The JSON Lines COPY ran on the helper thread (its own connection) while the CSV one ran here.
    assert sink.threads[("api_requests", "csv")] == {threading.current_thread().name}
    assert all(name.startswith("export-copy") for name in sink.threads[("api_requests", "jsonl")])
