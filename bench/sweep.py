"""Benchmark: the SQL connector's batched sweep against a single DELETE statement, on PostgreSQL.

The sample platform is seeded with ``seed_platform`` (default 1,000 accounts x
1,000 API requests = 1,000,000 rows, dates over four years; the seed time is
printed too). Two identical copies of ``api_requests`` are made; on copy A the
connector's ``sweep`` deletes the rows older than 90 days in bounded batches
(one statement and one transaction per batch, evidence digest computed in the
database); on copy B one ``DELETE FROM copy WHERE created_at < cutoff`` does the
same. Printed: rows/s of each, their ratio, the longest batch, peak RSS.

Targets (issue 3): ratio at least 0.5, no batch longer than 250 ms, flat memory.

It creates throwaway databases (``test_`` + the names in DATABASE_URL and
PLATFORM_DATABASE_URL, as the test suite does) and drops them at the end::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_bo \\
    PLATFORM_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pf \\
    .venv/bin/python bench/sweep.py --batch-size 20000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

COPIES = ("bench_sweep_batched", "bench_sweep_single")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--requests-per-account", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=10000, help="keys per sweep batch (default 10000)")
    parser.add_argument("--days", type=int, default=90, help="sweep rows older than this (default 90)")
    return parser.parse_args()


def sql(statement: str, params=None):
    with connections["platform"].cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else None


def make_copies() -> None:
    for name in COPIES:
        sql(f"DROP TABLE IF EXISTS {name}")
        sql(f"CREATE TABLE {name} (LIKE api_requests INCLUDING ALL)")
        sql(f"INSERT INTO {name} SELECT * FROM api_requests")
        sql(f"VACUUM ANALYZE {name}")
        sql(f"SELECT count(*) FROM {name}")  # read once: both copies start equally warm


def map_copy():
    """The batched copy as a mapped table, with the columns of api_requests in the shipped map."""
    import yaml

    from compliance.datamap import datamap_import
    from compliance.demo import PLATFORM_MAP
    from compliance.models import MappedTable, SystemOfRecord
    from compliance.services import policy_baseline_load

    policy_baseline_load()
    data = yaml.safe_load(Path(PLATFORM_MAP).read_text())
    system = data["systems"][0]
    requests = next(t for t in system["tables"] if t["name"] == "api_requests")
    requests = {**requests, "name": COPIES[0]}
    system.update(slug="bench-platform", name="Benchmark platform", tables=[requests])
    datamap_import(data)
    return SystemOfRecord.objects.get(slug="bench-platform"), MappedTable.objects.get(table_name=COPIES[0])


def main() -> None:
    args = parse_args()
    if connections["platform"].vendor != "postgresql":
        sys.exit("PLATFORM_DATABASE_URL must be a PostgreSQL database")
    old_config = setup_databases(verbosity=0, interactive=False, aliases={"default", "platform"})
    try:
        from compliance.connectors import get_connector
        from sample_platform.seed import seed_platform

        started = time.perf_counter()
        counts = seed_platform(
            accounts=args.accounts, requests_per_account=args.requests_per_account, seed=1, reset=True
        )
        seed_seconds = time.perf_counter() - started
        requests = counts.rows["api_requests"]
        print(f"seed_platform: {counts.total:,} rows ({requests:,} API requests) in {seed_seconds:.1f} s")

        make_copies()
        system, table = map_copy()
        cutoff = timezone.now() - timedelta(days=args.days)
        expected = sql(f"SELECT count(*) FROM {COPIES[0]} WHERE created_at < %s", [cutoff])[0][0]
        total = sql(f"SELECT count(*) FROM {COPIES[0]}")[0][0]
        print(f"rows: {total:,}; older than {args.days} days: {expected:,}; batch size {args.batch_size:,}")

        process = psutil.Process()
        rss_start = process.memory_info().rss
        rss_peak = rss_start
        connector = get_connector(system)
        batches, affected, longest = 0, 0, 0.0
        started = time.perf_counter()
        for batch in connector.sweep(
            table,
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=args.batch_size,
        ):
            batches += 1
            affected += batch.affected
            longest = max(longest, batch.duration_ms)
            rss_peak = max(rss_peak, process.memory_info().rss)
        sweep_seconds = time.perf_counter() - started
        assert affected == expected, (affected, expected)

        started = time.perf_counter()
        with connections["platform"].cursor() as cursor:
            cursor.execute(f"DELETE FROM {COPIES[1]} WHERE created_at < %s", [cutoff])
            deleted = cursor.rowcount
        single_seconds = time.perf_counter() - started
        assert deleted == expected, (deleted, expected)

        sweep_rate = affected / sweep_seconds
        single_rate = deleted / single_seconds
        maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"batched sweep : {affected:,} rows in {sweep_seconds:.2f} s = {sweep_rate:,.0f} rows/s ({batches} batches)"
        )
        print(f"single DELETE : {deleted:,} rows in {single_seconds:.2f} s = {single_rate:,.0f} rows/s")
        print(f"ratio         : {sweep_rate / single_rate:.2f}x (target >= 0.5x)")
        print(f"longest batch : {longest:.0f} ms (target <= 250 ms)")
        print(
            f"RSS           : {rss_start / 2**20:.0f} MB before the sweep, {rss_peak / 2**20:.0f} MB peak during it "
            f"(process max RSS {maxrss_mb:.0f} MB, including the seed)"
        )
    finally:
        for name in COPIES:
            sql(f"DROP TABLE IF EXISTS {name}")
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
