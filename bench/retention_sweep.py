"""Benchmark: a retention rule's full run against a single DELETE statement, on PostgreSQL.

On N API request rows (default 1,000,000) of the sample platform, a retention rule
"delete API requests after 90 days" is started and run to the end exactly as beat
and a worker would (count, legal holds re-read before every batch, batches through
the SQL connector, a record and chained SHA-256 evidence per batch in the back
office's database). The baseline, in the same run, is one
``DELETE FROM copy WHERE created_at < cutoff`` on an identical copy of the table.

Targets (issue 7): the run's throughput at least 0.35x the single statement's, and
no batch longer than 250 ms.

It creates its own throwaway databases (``test_`` + the names in DATABASE_URL and
PLATFORM_DATABASE_URL, as the test suite does) and drops them at the end unless
``--keepdb``::

    DJANGO_SETTINGS_MODULE=config.settings.test \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_bo \\
    PLATFORM_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pf \\
    .venv/bin/python bench/retention_sweep.py --rows 1000000 --batch-size 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

ACCOUNTS = 1000
HELD_ACCOUNTS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="API request rows (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=2000, help="rows per sweep batch (default 2000)")
    parser.add_argument("--keepdb", action="store_true", help="keep the benchmark databases afterwards")
    return parser.parse_args()


def fill_platform(rows: int) -> None:
    """Accounts and API requests spread over four years, ids in time order as a log's are (not measured)."""
    with connections["platform"].cursor() as cursor:
        cursor.execute("TRUNCATE outputs, prompts, api_requests, api_keys, accounts RESTART IDENTITY CASCADE")
        cursor.execute(
            "INSERT INTO accounts (id, email, name, role, created_at, processing_restricted) "
            "SELECT g, 'person' || g || '@example.com', 'Person ' || g, 'member', now() - interval '5 years', false "
            "FROM generate_series(1, %s) g",
            [ACCOUNTS],
        )
        cursor.execute(
            "INSERT INTO api_requests (id, account_id, model_id, prompt_tokens, completion_tokens, cost, ip_address, "
            "user_agent, status_code, created_at) "
            "SELECT g, 1 + (g::bigint * 7919) %% %s, 'openai/gpt-4o-mini', 100 + g %% 900, 20 + g %% 400, 0.000123, "
            "'203.0.113.' || (g %% 250), 'python-requests/2.32.3', 200, "
            "now() - make_interval(secs => ((%s - g)::float8 * 4 * 365 * 86400 / %s)) "
            "FROM generate_series(1, %s) g",
            [ACCOUNTS, rows, rows, rows],
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('api_requests', 'id'), %s), "
            "setval(pg_get_serial_sequence('accounts', 'id'), %s)",
            [rows, ACCOUNTS],
        )
        # Two identical copies for the single-statement baseline: one referenced by a copy of `prompts`
        # exactly as the real table is (so the DELETE runs the same foreign-key checks as the sweep), one
        # referenced by nothing (the statement at its fastest, printed for information).
        cursor.execute("DROP TABLE IF EXISTS prompts_copy, api_requests_copy, api_requests_bare")
        for name in ("api_requests_copy", "api_requests_bare"):
            cursor.execute(f"CREATE TABLE {name} (LIKE api_requests INCLUDING ALL)")
            cursor.execute(f"INSERT INTO {name} SELECT * FROM api_requests")
        cursor.execute("CREATE TABLE prompts_copy (LIKE prompts INCLUDING ALL)")
        cursor.execute(
            "ALTER TABLE prompts_copy ADD FOREIGN KEY (api_request_id) REFERENCES api_requests_copy (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
    for name in ("api_requests", "api_requests_copy", "api_requests_bare"):
        connections["platform"].cursor().execute(f"VACUUM ANALYZE {name}")


def back_office(batch_size: int):
    """The policy baseline, the sample platform's data map, a rule and five legal holds."""
    from compliance.datamap import datamap_import_file
    from compliance.models import DataCategory, LegalBasis, MappedColumn, MappedTable
    from compliance.roles import roles_sync
    from compliance.services import policy_baseline_load
    from retention.services import legal_hold_place, retention_rule_create

    policy_baseline_load()
    roles_sync()
    datamap_import_file(settings.BASE_DIR / "sample_platform" / "datamap.yaml")
    officer, _ = get_user_model().objects.get_or_create(username="bench-officer", defaults={"is_superuser": True})
    table = MappedTable.objects.get(system__slug="studio-platform", table_name="api_requests")
    rule = retention_rule_create(
        actor=officer,
        name="API requests: delete after 90 days (benchmark)",
        data_category=DataCategory.objects.get(slug="api-usage"),
        table=table,
        trigger_column=MappedColumn.objects.get(table=table, name="created_at"),
        period=90,
        period_unit="days",
        action="delete",
        justification="Benchmark.",
        legal_basis=LegalBasis.objects.get(slug="legitimate-interests"),
        batch_size=batch_size,
        approval_threshold=10**9,
    )
    for account_id in range(1, HELD_ACCOUNTS + 1):
        legal_hold_place(
            actor=officer, name=f"Bench hold {account_id}", reason="dispute", subject_account_ref=str(account_id)
        )
    return rule


def single_delete(table: str, cutoff) -> tuple[int, float]:
    connection = connections["platform"]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as the sweep's batches do
        cursor.execute(f"DELETE FROM {table} WHERE created_at < %s", [cutoff])
        deleted = cursor.rowcount
        cursor.execute("COMMIT")
    return deleted, time.perf_counter() - started


def main() -> int:
    args = parse_args()
    for alias in ("default", "platform"):
        if connections[alias].vendor != "postgresql":
            print(f"{alias}: the benchmark needs PostgreSQL (set DATABASE_URL and PLATFORM_DATABASE_URL)")
            return 2
    old_config = setup_databases(verbosity=0, interactive=False, keepdb=args.keepdb, aliases={"default", "platform"})
    try:
        from retention.models import RetentionRunBatch
        from retention.selectors import cutoff_for
        from retention.services import retention_run_execute, retention_run_start

        print(f"Filling {args.rows:,} API request rows and an identical copy...")
        fill_platform(args.rows)
        rule = back_office(args.batch_size)
        cutoff = cutoff_for(rule, timezone.now())

        deleted, delete_seconds = single_delete("api_requests_copy", cutoff)
        delete_rate = deleted / delete_seconds
        bare_deleted, bare_seconds = single_delete("api_requests_bare", cutoff)

        started = time.perf_counter()
        run = retention_run_start(rule_id=rule.pk, enqueue=False)
        run = retention_run_execute(run_id=run.pk)
        run_seconds = time.perf_counter() - started
        run_rate = run.rows_affected / run_seconds
        longest = max(RetentionRunBatch.objects.filter(run=run).values_list("duration_ms", flat=True))
        ratio = run_rate / delete_rate

        print(
            f"Rows older than the cutoff: {run.rows_matched:,}; held by {HELD_ACCOUNTS} legal holds: "
            f"{run.rows_skipped_held:,}; status {run.status}"
        )
        print(
            f"Single DELETE statement : {deleted:>10,} rows in {delete_seconds:7.2f} s = {delete_rate:>10,.0f} rows/s"
            " (same foreign keys as the real table)"
        )
        print(
            f"  without foreign keys  : {bare_deleted:>10,} rows in {bare_seconds:7.2f} s = "
            f"{bare_deleted / bare_seconds:>10,.0f} rows/s (information: nothing references that copy)"
        )
        print(
            f"Retention rule and run  : {run.rows_affected:>10,} rows in {run_seconds:7.2f} s = "
            f"{run_rate:>10,.0f} rows/s ({run.batches} batches of at most {args.batch_size:,} keys, "
            f"sized to {settings.RETENTION_BATCH_TARGET_MS or 'no'} ms; count included)"
        )
        print(f"Ratio                   : {ratio:.2f}x (target at least 0.35x)")
        print(f"  against the bare copy : {run_rate / (bare_deleted / bare_seconds):.2f}x")
        print(f"Longest batch           : {longest:.0f} ms (target under 250 ms)")
        print(f"Evidence                : {run.evidence_sha256}")
        met = ratio >= 0.35 and longest < 250 and run.rows_affected == deleted - run.rows_skipped_held
        print("Targets met." if met else "Targets NOT met.")
        return 0 if met else 1
    finally:
        for alias in ("default", "platform"):
            connections[alias].close()
        teardown_databases(old_config, verbosity=0, keepdb=args.keepdb)


if __name__ == "__main__":
    sys.exit(main())
