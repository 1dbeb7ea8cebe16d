"""Fault bench (issue 18): rights requests fulfilled while workers are killed, Redis goes away and a
worker's database connection is cut; every request must still finish, exactly, once.

As production runs: PostgreSQL, a Redis server of this bench's own (no persistence, as a default install),
gunicorn for the API, 2 Celery workers (solo pool) and beat with the database scheduler. The workload:
150 requests posted through the API (100 access + erasure, 50 access only) for real platform accounts;
each is verified and started by an officer (services, in this process), and every erasure plan is approved
as soon as it is built. Meanwhile: 10 worker SIGKILLs at intervals (each worker restarted at once), a 20 s
Redis outage (a restart: the queued and unacknowledged jobs are lost), and one worker's database
connections terminated by the server. Then it waits for every request to finish and checks:

- requests completed (every line), bundles exact (rows per table = rows located), erasures exact (every
  table deleted or masked as planned, nothing of the subject's deleted tables left), other subjects untouched
  (digest of their rows before and after), duplicates (bundles, links, ledger entries, notices), stalled work
  left, and the time from approval to completion (median, max).

Targets: 150 of 150 complete and exact, 0 duplicates, 0 stalled, each within the lease after the last fault.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_faults_bo \\
    PLATFORM_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_faults_pf \\
    .venv/bin/python bench/faults.py [--quick]

Both databases are dropped and created afresh. ``--quick``: 15 requests, 3 kills, a 5 s outage.
``--lease`` sets FULFILMENT_LEASE_SECONDS for the workers (default 30).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
CHECKED_TABLES = ["accounts", "api_keys", "api_requests", "prompts", "outputs", "support_tickets", "invoices"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and underscores")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Redis:
    """A redis-server of this bench alone (never the machine's shared one), without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        stop(self.process, signal.SIGKILL)
        self.process = None


class Cluster:
    """gunicorn, two workers and beat, with the environment they share."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.workers: dict[int, subprocess.Popen] = {}
        self.others: list[subprocess.Popen] = []
        self.lock = threading.Lock()

    def _spawn(self, command: list[str], **extra: str) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=ROOT, env={**self.env, **extra}, start_new_session=True)

    def worker(self, number: int) -> None:
        url = self.env["DATABASE_URL"] + f"?application_name=bench-worker-{number}"
        command = [str(BIN / "celery"), "-A", "config", "worker", "--pool", "solo", "--loglevel", "ERROR"]
        command += ["--hostname", f"bench{number}@%h", "--without-gossip", "--without-mingle"]
        with self.lock:
            self.workers[number] = self._spawn(command, DATABASE_URL=url)

    def start(self, port: int) -> None:
        self.others.append(
            self._spawn(
                [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
                + ["--log-level", "warning"]
            )
        )
        self.others.append(self._spawn([str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "ERROR"]))
        for number in (1, 2):
            self.worker(number)

    def kill_worker(self, number: int) -> None:
        with self.lock:
            process = self.workers[number]
        stop(process, signal.SIGKILL)
        self.worker(number)

    def stop(self) -> None:
        for process in [*self.workers.values(), *self.others]:
            stop(process)


def platform_digest(url: str, excluded_accounts: list[int]) -> dict[str, str]:
    """A digest of every row of the subjects no request is about, per table."""
    queries = {
        "accounts": "SELECT t::text FROM accounts t WHERE id <> ALL(%s) ORDER BY id",
        "api_keys": "SELECT t::text FROM api_keys t WHERE account_id <> ALL(%s) ORDER BY id",
        "api_requests": "SELECT t::text FROM api_requests t WHERE account_id <> ALL(%s) ORDER BY id",
        "prompts": "SELECT p::text FROM prompts p JOIN api_requests r ON r.id = p.api_request_id "
        "WHERE r.account_id <> ALL(%s) ORDER BY p.id",
        "invoices": "SELECT t::text FROM invoices t WHERE account_id <> ALL(%s) ORDER BY id",
    }
    digests = {}
    with psycopg.connect(url) as conn:
        for table, sql in queries.items():
            rows = conn.execute(f"SELECT md5(string_agg(x, ',')) FROM ({sql}) q(x)", [excluded_accounts]).fetchone()
            digests[table] = rows[0] or ""
    return digests


def faults(cluster: Cluster, redis: Redis, args, bo_url: str, log: list[tuple[float, str]], done) -> None:
    """Kills at intervals, one Redis outage and one terminated database connection, in between."""
    rng = random.Random(18)
    outage_at = args.kills // 2
    for number in range(args.kills):
        time.sleep(rng.uniform(*args.interval))
        victim = rng.choice([1, 2])
        cluster.kill_worker(victim)
        log.append((time.monotonic(), f"SIGKILL worker {victim}"))
        if number == outage_at:
            redis.stop()
            log.append((time.monotonic(), "Redis down"))
            time.sleep(args.outage)
            redis.start()
            log.append((time.monotonic(), f"Redis back after {args.outage:.0f} s, empty"))
        if number == 1:
            with psycopg.connect(bo_url, autocommit=True) as conn:
                ended = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                    ["bench-worker-2"],
                ).fetchone()[0]
            log.append((time.monotonic(), f"terminated {ended} database connections of worker 2"))
    done.set()


def main() -> int:  # noqa: C901 - one run, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 requests, 3 kills, a 5 s outage")
    parser.add_argument("--lease", type=int, default=30, help="FULFILMENT_LEASE_SECONDS of the workers")
    args = parser.parse_args()
    args.erasures, args.access_only = (10, 5) if args.quick else (100, 50)
    args.kills, args.outage = (3, 5.0) if args.quick else (10, 20.0)
    args.interval = (5.0, 8.0) if args.quick else (20.0, 30.0)

    bo_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_faults_bo")
    pf_url = os.environ.get("PLATFORM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_faults_pf")
    if not (bo_url.startswith("postgres") and pf_url.startswith("postgres")):
        raise SystemExit("DATABASE_URL and PLATFORM_DATABASE_URL must be postgres:// URLs")
    print("preparing fresh databases, a Redis of this bench, the platform and its data map...", flush=True)
    recreate_database(bo_url)
    recreate_database(pf_url)
    redis = Redis()
    redis.start()
    mail_dir = ROOT / "var" / f"bench-faults-mail-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": bo_url,
        "PLATFORM_DATABASE_URL": pf_url,
        "CELERY_BROKER_URL": redis.url,
        "CELERY_VISIBILITY_TIMEOUT": "3600",
        "FULFILMENT_LEASE_SECONDS": str(args.lease),
        "JOBS_RESEND_AFTER_SECONDS": "10",
        "EMAIL_URL": f"filemail://{mail_dir}",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    manage(env, "migrate", "--noinput")
    manage(env, "migrate", "--database", "platform", "--noinput")
    manage(env, "load_policy_baseline")
    manage(env, "setup_roles")
    manage(env, "import_datamap", str(ROOT / "sample_platform" / "datamap.yaml"))
    total = args.erasures + args.access_only
    manage(env, "seed_platform", "--accounts", str(total + 20), "--requests-per-account", "8", "--reset")
    manage(env, "setup_periodic_tasks")
    token = re.search(r"dsr_\S+", manage(env, "create_api_token", "Fault bench")).group(0)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from compliance.connectors import get_connector
    from compliance.models import SystemOfRecord
    from fulfilment.models import (
        DownloadLink,
        ErasureLedgerEntry,
        ExportBundle,
        FulfilmentPlan,
        FulfilmentStep,
        LocatedTable,
        RecipientNotice,
    )
    from fulfilment.selectors import stalled_work
    from fulfilment.services import fulfilment_start, plan_approve
    from requests_app.models import RequestLine, RightsRequest
    from requests_app.services import rights_request_identity_record

    officer, _ = get_user_model().objects.get_or_create(
        username="bench-officer", defaults={"is_superuser": True, "is_staff": True}
    )
    system = SystemOfRecord.objects.get(slug="studio-platform")
    connector = get_connector(system)
    subjects = connector.sample_subjects(total)
    if len(subjects) < total:
        raise SystemExit(f"the platform has {len(subjects)} subjects, {total} needed")
    accounts = [int(subject.account_ref) for subject in subjects]
    before = platform_digest(pf_url, accounts)

    port = free_port()
    cluster = Cluster(env)
    cluster.start(port)
    base = f"http://127.0.0.1:{port}"
    log: list[tuple[float, str]] = []
    faults_done = threading.Event()
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/api/v1/rights-requests/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {token}"})
        references = {}
        for number, subject in enumerate(subjects):
            rights = ["access", "erasure"] if number < args.erasures else ["access"]
            response = session.post(
                f"{base}/api/v1/rights-requests/",
                json={
                    "requester_email": subject.email,
                    "requester_name": f"Bench subject {number}",
                    "account_ref": subject.account_ref,
                    "regime": "uk_gdpr",
                    "rights": rights,
                    "channel": "web_form",
                    "description": "Fault bench",
                },
                timeout=60,
            )
            response.raise_for_status()
            references[response.json()["reference"]] = subject
        print(f"posted {len(references)} requests through the API; starting fulfilment with faults...", flush=True)
        started = time.monotonic()
        threading.Thread(target=faults, args=(cluster, redis, args, bo_url, log, faults_done), daemon=True).start()
        for request in RightsRequest.objects.filter(reference__in=references):
            rights_request_identity_record(request=request, method="email_match", outcome="verified", actor=officer)
            fulfilment_start(request=request, actor=officer)
        requests_ids = list(RightsRequest.objects.filter(reference__in=references).values_list("pk", flat=True))
        deadline = None
        while True:
            for plan in FulfilmentPlan.objects.filter(status=FulfilmentPlan.Status.AWAITING_APPROVAL):
                plan_approve(plan=plan, actor=officer)
            open_lines = RequestLine.objects.filter(request_id__in=requests_ids).exclude(
                status=RequestLine.Status.COMPLETED
            )
            if faults_done.is_set() and deadline is None:
                deadline = time.monotonic() + args.lease + 60 + 300  # the lease, beat's minute, and the work
            if not open_lines.exists() and faults_done.is_set():
                break
            if deadline is not None and time.monotonic() > deadline:
                print("gave up waiting: work left after the lease, beat's minute and five minutes of work")
                break
            time.sleep(1)
        finished = time.monotonic()
    finally:
        cluster.stop()
        redis.stop()

    last_fault = max(moment for moment, _ in log) if log else started
    for moment, what in log:
        print(f"  fault at {moment - started:6.1f} s: {what}")
    requests_qs = RightsRequest.objects.filter(pk__in=requests_ids)
    completed = sum(1 for r in requests_qs if not r.lines.exclude(status=RequestLine.Status.COMPLETED).exists())
    bundles_exact = 0
    for request in requests_qs:
        bundle = ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).first()
        located = {
            item.table.table_name: item.rows for item in LocatedTable.objects.filter(request=request, rows__gt=0)
        }
        if bundle and {t["table"]: t["rows"] for t in bundle.manifest["tables"]} == located:
            bundles_exact += 1
    erasures_exact = 0
    erasure_requests = [r for r in requests_qs if FulfilmentPlan.objects.filter(request=r, kind="erasure").exists()]
    for request in erasure_requests:
        steps = list(FulfilmentStep.objects.filter(request=request, kind="erase").select_related("table"))
        counts = {count.table_id: count.rows for count in connector.locate(references[request.reference])}
        exact = all(step.status == "done" for step in steps) and all(
            counts.get(step.table_id, 0) == 0 for step in steps if step.action == "delete"
        )
        exact = exact and all(
            step.rows_deleted + step.rows_masked == step.rows_located
            for step in steps
            if step.action in {"delete", "mask"}
        )
        erasures_exact += int(exact)
    after = platform_digest(pf_url, accounts)
    untouched = [table for table in before if before[table] == after[table]]
    duplicates = {
        "bundles": sum(max(0, ExportBundle.objects.filter(request=r).count() - 1) for r in requests_qs),
        "links": sum(max(0, DownloadLink.objects.filter(bundle__request=r).count() - 1) for r in requests_qs),
        "ledger entries": ErasureLedgerEntry.objects.count() - len(erasure_requests),
        "notices": RecipientNotice.objects.count()
        - RecipientNotice.objects.values("request", "subprocessor").distinct().count(),
    }
    stalled = stalled_work()
    times = []
    for plan in FulfilmentPlan.objects.filter(request_id__in=requests_ids, completed_at__isnull=False):
        start = plan.approved_at or plan.created_at
        times.append((plan.completed_at - start).total_seconds())

    print(f"\nworkload: {total} requests ({args.erasures} access + erasure, {args.access_only} access only), ")
    print(f"2 workers, beat, PostgreSQL, own Redis; lease {args.lease} s; visibility timeout 3600 s")
    print(
        f"run: {finished - started:.0f} s; last fault at {last_fault - started:.0f} s; all done "
        f"{finished - last_fault:.0f} s after it (target: within the lease plus beat's minute)"
    )
    print(f"requests completed: {completed} of {total} (target {total})")
    print(f"bundles exact: {bundles_exact} of {total} (target {total})")
    print(f"erasures exact: {erasures_exact} of {len(erasure_requests)} (target {args.erasures})")
    print(f"other subjects untouched: {len(untouched)} of {len(before)} tables (target {len(before)})")
    print(f"duplicates: {sum(duplicates.values())} {duplicates} (target 0)")
    print(f"stalled work: {len(stalled)} (target 0)")
    if times:
        print(
            f"approval to completion: median {statistics.median(times):.1f} s, max {max(times):.1f} s "
            f"(target: max within the run's last fault plus the lease)"
        )
    ok = (
        completed == total
        and bundles_exact == total
        and erasures_exact == args.erasures
        and len(untouched) == len(before)
        and not any(duplicates.values())
        and not stalled
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
