"""Benchmark: the SQL connector's batched sweep against a single DELETE statement, on PostgreSQL.

The sample platform is seeded with ``seed_platform`` (default 1,000 accounts x
1,000 API requests = 1,000,000 rows, dates over four years; the seed time is
printed too). Two identical copies of ``api_requests`` are made; on copy A the
connector's ``sweep`` deletes the rows older than 90 days in bounded batches
(one statement and one transaction per batch, evidence digest computed in the
database); on copy B one ``DELETE FROM copy WHERE created_at < cutoff`` does the
same. Printed: rows/s of each, their ratio, the longest batch, peak RSS.

Targets (issue 16): ratio at least 0.7 (the median of the rounds: the single DELETE's own time
varies by 20 to 40% between runs), no batch longer than 250 ms, flat memory. ``--explain`` prints
where one batch spends its time (EXPLAIN ANALYZE of the first batch, rolled back).

It creates throwaway databases (``test_`` + the names in DATABASE_URL and
PLATFORM_DATABASE_URL, as the test suite does) and drops them at the end::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_bo \\
    PLATFORM_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pf \\
    .venv/bin/python bench/sweep.py            # --target-ms 0 --batch-size 10000: fixed batches
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

COPIES = ("bench_sweep_batched", "bench_sweep_single", "bench_sweep_fixed")
FIXED_BATCH = 10_000  # the first round's fixed batch size, swept beside the time-sized batches for comparison


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--requests-per-account", type=int, default=1000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100_000,
        help="most keys per batch (default 100,000)",
    )
    parser.add_argument(
        "--target-ms",
        type=float,
        default=60.0,
        help="size batches to last about this long (default 60 ms); 0: every batch takes --batch-size",
    )
    parser.add_argument("--days", type=int, default=90, help="sweep rows older than this (default 90)")
    parser.add_argument("--rounds", type=int, default=3, help="sweep and DELETE pairs on fresh copies (default 3)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the first batch's statement")
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
    # The copy stands alone: its restriction flag lives on ``accounts``, which the bench does not map.
    requests = {key: value for key, value in requests.items() if key != "restricted_by"}
    tables = [requests | {"name": COPIES[0]}, requests | {"name": COPIES[2]}]
    system.update(slug="bench-platform", name="Benchmark platform", tables=tables)
    datamap_import(data)
    mapped = MappedTable.objects.filter(system__slug="bench-platform")
    return (
        SystemOfRecord.objects.get(slug="bench-platform"),
        mapped.get(table_name=COPIES[0]),
        mapped.get(table_name=COPIES[2]),
    )


def sweep_once(connector, table, cutoff, batch_size: int, target_ms, capture: list[tuple[str, list]]) -> dict:
    """The connector's sweep of one copy, start to end; the first batch's statement is kept for --explain."""

    def keep_first(execute, sql, params, many, context):
        if not capture and "WITH bound" in sql:
            capture.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    process = psutil.Process()
    rss_start = rss_peak = process.memory_info().rss
    batches, affected, longest, durations = 0, 0, 0.0, []
    started = time.perf_counter()
    with connections["platform"].execute_wrapper(keep_first):
        for batch in connector.sweep(
            table,
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=batch_size,
            target_ms=target_ms,
        ):
            batches += 1
            affected += batch.affected
            durations.append(batch.duration_ms)
            longest = max(longest, batch.duration_ms)
            rss_peak = max(rss_peak, process.memory_info().rss)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "affected": affected,
        "batches": batches,
        "longest": longest,
        "in_statements": sum(durations) / 1000,
        "rss_start": rss_start,
        "rss_peak": rss_peak,
        "median_ms": median(durations),
    }


def delete_once(cutoff) -> tuple[float, int]:
    started = time.perf_counter()
    with connections["platform"].cursor() as cursor:
        cursor.execute(f"DELETE FROM {COPIES[1]} WHERE created_at < %s", [cutoff])
        deleted = cursor.rowcount
    return time.perf_counter() - started, deleted


def explain(statement: tuple[str, list]) -> None:
    """Where one batch spends its time: the first batch's statement under EXPLAIN ANALYZE, rolled back."""
    sql_text, params = statement
    connection = connections["platform"]
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING) {sql_text}", params)
            print("\nEXPLAIN ANALYZE of the first batch (rolled back):")
            for (line,) in cursor.fetchall():
                print("  " + line)
        finally:
            cursor.execute("ROLLBACK")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


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
        print(f"load average at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")

        system = table = fixed_table = None
        cutoff = timezone.now() - timedelta(days=args.days)
        ratios, fixed_ratios, capture, longest = [], [], [], []
        target_ms = args.target_ms or None
        for round_number in range(1, args.rounds + 1):
            make_copies()
            if system is None:
                system, table, fixed_table = map_copy()
                expected = sql(f"SELECT count(*) FROM {COPIES[0]} WHERE created_at < %s", [cutoff])[0][0]
                total = sql(f"SELECT count(*) FROM {COPIES[0]}")[0][0]
                print(
                    f"rows: {total:,}; older than {args.days} days: {expected:,}; "
                    f"batches of at most {args.batch_size:,} keys, "
                    f"target {args.target_ms:.0f} ms per batch (0: fixed); beside them, fixed batches of "
                    f"{FIXED_BATCH:,} keys; {args.rounds} rounds (fresh copies each, the order rotating)"
                )
            connector = get_connector(system)
            # Rotate which goes first, so none always meets the colder cache or the autovacuum.
            work = {
                "sweep": lambda c=connector, t=table: sweep_once(c, t, cutoff, args.batch_size, target_ms, capture),
                "fixed": lambda c=connector, t=fixed_table: sweep_once(c, t, cutoff, FIXED_BATCH, None, []),
                "single": lambda: delete_once(cutoff),
            }
            order = list(work)[round_number % 3 :] + list(work)[: round_number % 3]
            done = {name: work[name]() for name in order}
            result, fixed = done["sweep"], done["fixed"]
            single_seconds, deleted = done["single"]
            assert result["affected"] == fixed["affected"] == deleted == expected, (result["affected"], expected)
            single_rate = deleted / single_seconds
            sweep_rate = result["affected"] / result["seconds"]
            fixed_rate = fixed["affected"] / fixed["seconds"]
            ratios.append(sweep_rate / single_rate)
            fixed_ratios.append(fixed_rate / single_rate)
            longest.append(result["longest"])
            print(
                f"round {round_number} ({', '.join(order)}): single DELETE {single_seconds:.2f} s; "
                f"time-sized sweep {result['seconds']:.2f} s ({result['batches']} batches, median "
                f"{result['median_ms']:.0f} ms, longest {result['longest']:.0f} ms) = {sweep_rate / single_rate:.2f}x; "
                f"fixed {FIXED_BATCH:,}-key batches {fixed['seconds']:.2f} s ({fixed['batches']} batches, longest "
                f"{fixed['longest']:.0f} ms) = {fixed_rate / single_rate:.2f}x; RSS "
                f"{result['rss_start'] / 2**20:.0f} MB before, {result['rss_peak'] / 2**20:.0f} MB peak"
            )

        maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"ratio         : median {median(ratios):.2f}x of {len(ratios)} rounds (target >= 0.7x)")
        print(f"fixed batches : median {median(fixed_ratios):.2f}x ({FIXED_BATCH:,} keys each, for comparison)")
        print(f"longest batch : {max(longest):.0f} ms over all rounds (target <= 250 ms)")
        print(f"process max RSS {maxrss_mb:.0f} MB, including the seed")
        print(f"load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        if args.explain and capture:
            make_copies()
            explain(capture[0])
    finally:
        for name in COPIES:
            sql(f"DROP TABLE IF EXISTS {name}")
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
