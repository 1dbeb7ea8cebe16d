"""Load: 50 concurrent clients posting rights requests to the API for a minute, on loopback.

A real server (gunicorn, ``config.wsgi``) in front of PostgreSQL; the clients are threads of this process
with keep-alive connections, each posting one request after another, every one for a different requester
and with its own ``Idempotency-Key``. Afterwards the database is checked: every request answered 201 is
stored exactly once (looked up by its key and by the requester's address), no request answered otherwise
is stored, references are unique, and no answer was a 5xx. Prints throughput and latency percentiles,
and the SQL queries one intake makes (counted in-process, through the same API view, before the load);
exits 1 if any check fails.

Targets (issue 16): at least 100 requests/s with p95 under 500 ms for 50 clients, every check above kept.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_intake .venv/bin/python bench/intake_load.py

The database named by ``DATABASE_URL`` is dropped and created afresh (default ``bench_intake``).
Options: ``--clients 50 --seconds 60 --workers 3 --threads 8``; ``--show-queries`` lists the intake's queries.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TIMEOUT = 30
RETRIES = 3
TARGET_RATE = 100.0  # requests/s
TARGET_P95_MS = 500.0
RIGHTS = [["access"], ["erasure"], ["access", "portability"], ["rectification"], ["access", "erasure"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and underscores")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


# One intake through the API view, in a manage.py shell of the benchmark's settings, its queries captured.
_COUNT_QUERIES = """
import json, os
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_AUTHORIZATION="Bearer " + os.environ["BENCH_TOKEN"], HTTP_HOST="127.0.0.1")
body = {"requester_email": "count.queries@bench.example", "requester_name": "Count Queries", "account_ref": "acct-q",
        "regime": "uk_gdpr", "rights": ["access", "erasure"], "channel": "web_form", "description": "count"}
with CaptureQueriesContext(connection) as captured:
    response = client.post("/api/v1/rights-requests/", body, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="count-queries")
assert response.status_code == 201, response.status_code
print(json.dumps([query["sql"] for query in captured.captured_queries]))
"""


def intake_queries(env: dict, token: str) -> list[str]:
    """The SQL statements of one intake (two rights) through the API, as the server runs it."""
    output = manage({**env, "BENCH_TOKEN": token}, "shell", "-c", _COUNT_QUERIES)
    return json.loads(output.strip().splitlines()[-1])


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.created: dict[str, str] = {}  # idempotency key -> reference
        self.not_created: list[str] = []  # keys answered with anything but 201
        self.retries = 0

    def count_retry(self, retrying: bool) -> None:
        with self.lock:
            self.retries += int(retrying)

    def record(self, key: str, seconds: float, status: int | None, reference: str | None, error: str = "") -> None:
        with self.lock:
            self.latencies.append(seconds)
            if status is None:
                self.errors[error] += 1
                self.not_created.append(key)
                return
            self.statuses[status] += 1
            if status == 201 and reference:
                self.created[key] = reference
            else:
                self.not_created.append(key)


def client(number: int, base: str, token: str, deadline: float, results: Results, run_id: str) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    sent = 0
    while time.monotonic() < deadline:
        key = f"{run_id}-{number}-{sent}"
        body = {
            "requester_email": f"load.{number}.{sent}.{run_id}@bench.example",
            "requester_name": f"Load Client {number}",
            "account_ref": f"acct-{number}-{sent}",
            "regime": "uk_gdpr",
            "rights": RIGHTS[(number + sent) % len(RIGHTS)],
            "channel": "web_form",
            "description": f"Benchmark request {key}",
        }
        started = time.perf_counter()
        status, reference, error = None, None, ""
        # A client that hears nothing back tries again with the same key, as an integration should:
        # the server answers the first request's outcome and creates nothing more.
        for attempt in range(RETRIES + 1):
            try:
                response = session.post(
                    f"{base}/api/v1/rights-requests/", json=body, headers={"Idempotency-Key": key}, timeout=TIMEOUT
                )
            except requests.RequestException as exc:
                error = type(exc).__name__
                results.count_retry(attempt < RETRIES)
                continue
            status = response.status_code
            reference = response.json().get("reference") if status == 201 else None
            break
        results.record(key, time.perf_counter() - started, status, reference, error)
        sent += 1
    session.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def verify(url: str, results: Results, run_id: str) -> list[str]:
    """The database against the answers (the request of the query count, stored before the load, left out)."""
    problems = []
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT r.reference, r.requester_email, i.key FROM requests_app_rightsrequest r "
            "LEFT JOIN requests_app_idempotencyrecord i ON i.rights_request_id = r.id "
            "WHERE r.requester_email <> 'count.queries@bench.example'"
        ).fetchall()
        lines = conn.execute("SELECT count(*) FROM requests_app_requestline").fetchone()[0]
    references = [row[0] for row in rows]
    by_key = Counter(row[2] for row in rows)
    emails = Counter(row[1] for row in rows)
    if len(references) != len(set(references)):
        problems.append(f"{len(references) - len(set(references))} duplicate references")
    if len(rows) != len(results.created):
        problems.append(f"{len(rows)} requests stored, {len(results.created)} answered 201")
    twice = [key for key, count in by_key.items() if count > 1]
    if twice:
        problems.append(f"{len(twice)} idempotency keys stored more than once")
    if any(count > 1 for count in emails.values()):
        problems.append("a requester's request was stored more than once")
    stored = {row[2]: row[0] for row in rows}
    missing = [key for key, reference in results.created.items() if stored.get(key) != reference]
    if missing:
        problems.append(f"{len(missing)} requests answered 201 are not stored under their reference")
    leaked = [key for key in results.not_created if key in stored]
    if leaked:
        problems.append(f"{len(leaked)} requests answered with an error were stored anyway")
    server_errors = sum(count for status, count in results.statuses.items() if status >= 500)
    if server_errors:
        problems.append(f"{server_errors} answers were 5xx")
    if results.errors:
        problems.append(f"client errors: {dict(results.errors)}")
    if not rows:
        problems.append("nothing was stored")
    print(f"stored: {len(rows)} requests with {lines} lines, {len(set(references))} distinct references")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--show-queries", action="store_true", help="list the SQL of one intake")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_intake")
    if not url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must be a postgres:// URL (the benchmark measures PostgreSQL)")
    print("preparing a fresh database (migrations, policy baseline, API token)...", flush=True)
    recreate_database(url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": url,
        "DATABASE_CONN_MAX_AGE": "60",
        # The intake writes only to the back office's database; the platform is never touched here.
        "PLATFORM_DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'bench-intake-platform.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        # Every client posts with one token as fast as it can: the load, not the rate limit, is measured.
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "1000000/minute"),
    }
    manage(env, "migrate", "--noinput")
    manage(env, "load_policy_baseline")
    token = re.search(r"dsr_\S+", manage(env, "create_api_token", "Load benchmark")).group(0)
    queries = intake_queries(env, token)
    print(f"queries per intake (API, two rights): {len(queries)}", flush=True)
    if args.show_queries:
        for sql in queries:
            print(f"  {sql[:160]}")

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    print(f"server on {base}; {args.clients} clients for {args.seconds:.0f} s...", flush=True)
    try:
        for _ in range(200):
            try:
                # An unauthenticated call answers 401 without touching the schema generator (drf-spectacular
                # builds its schema lazily and is not safe against concurrent first requests).
                requests.get(f"{base}/api/v1/rights-requests/", timeout=30)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        results = Results()
        run_id = uuid.uuid4().hex[:8]
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client, args=(n, base, token, deadline, results, run_id))
            for n in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    total = len(results.latencies)
    print(
        f"{args.clients} clients for {args.seconds:.0f} s against gunicorn "
        f"({args.workers} workers x {args.threads} threads) and PostgreSQL, on loopback"
    )
    print(
        f"requests: {total} in {elapsed:.1f} s; statuses: {dict(sorted(results.statuses.items()))}; "
        f"retried after a {TIMEOUT} s timeout: {results.retries}"
    )
    print(f"throughput: {total / elapsed:.1f} requests/s ({len(results.created) / elapsed:.1f} created/s)")
    print("latency: from the first attempt to the answer, retries included")
    ms = [value * 1000 for value in results.latencies]
    print(
        f"latency ms: p50 {percentile(ms, 0.50):.0f}, p95 {percentile(ms, 0.95):.0f}, "
        f"p99 {percentile(ms, 0.99):.0f}, max {max(ms):.0f}, mean {statistics.mean(ms):.0f}"
    )
    problems = verify(url, results, run_id)
    rate, p95 = total / elapsed, percentile(ms, 0.95)
    print(
        f"targets: {rate:.1f} requests/s (target at least {TARGET_RATE:.0f}), p95 {p95:.0f} ms "
        f"(target under {TARGET_P95_MS:.0f} ms), {len(queries)} queries per intake: "
        + ("met" if rate >= TARGET_RATE and p95 < TARGET_P95_MS else "NOT met")
    )
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print("checks: every 201 stored exactly once under its reference, references unique, no 5xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
