"""Benchmark: the rights-request changelist with 1,000 and with 100,000 requests.

The page must run the same number of queries at both sizes, and take at most
1.5x as long at 100,000 as at 1,000. Prints both timings, the ratio and the
query counts; exits 1 if either promise is broken.

Run against PostgreSQL (it creates and keeps its own ``test_<name>`` database):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
    PLATFORM_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_platform \\
    .venv/bin/python bench/admin_list.py

The rows are inserted with ``bulk_create`` (the services would take an hour for
100,000); their dates are what the deadline engine gives for each regime.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

SMALL, LARGE = 1_000, 100_000
RUNS = 15
PAGES = [
    ("default list", ""),
    ("filtered: open, on track", "?open=yes&sla=on_track"),
]


def create_database() -> None:
    for alias in connections:
        connections[alias].creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)


def seed(total: int, start_index: int) -> None:
    from compliance.models import Regime, Right
    from requests_app.deadlines import LedgerEntry, RegimeRule, compute_deadlines
    from requests_app.models import OPEN_STATUSES, Outcome, RequestLine, RequestStatus, RightsRequest

    rng = random.Random(start_index)
    regimes = list(Regime.objects.all())
    rules = {regime.pk: RegimeRule.from_regime(regime) for regime in regimes}
    granted = {regime.pk: list(regime.regime_rights.values_list("right_id", "right__slug")) for regime in regimes}
    rights_by_pk = {right.pk: right for right in Right.objects.all()}
    assignees = list(get_user_model().objects.filter(is_staff=True))
    now = timezone.now()
    today = timezone.localdate()
    batch = 5_000
    for offset in range(0, total, batch):
        requests, lines_for = [], []
        for n in range(offset, min(offset + batch, total)):
            index = start_index + n
            regime = rng.choice(regimes)
            received = now - dt.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
            chosen = rng.sample(granted[regime.pk], k=min(len(granted[regime.pk]), rng.choice([1, 1, 2, 3])))
            deadlines = compute_deadlines(
                rule=rules[regime.pk],
                received_on=timezone.localdate(received),
                ledger=[LedgerEntry("received", timezone.localdate(received))],
                rights=[slug for _pk, slug in chosen],
                today=today,
            )
            closed = received < now - dt.timedelta(days=60) or rng.random() < 0.3
            status = RequestStatus.CLOSED if closed else rng.choice(OPEN_STATUSES)
            requests.append(
                RightsRequest(
                    reference=f"DSR-BENCH-{index:07d}",
                    requester_name=f"Bench requester {index}",
                    requester_email=f"bench{index}@example.invalid",
                    regime=regime,
                    channel="email",
                    received_at=received,
                    status=status,
                    assignee=rng.choice(assignees),
                    clock_started_on=deadlines.clock_started_on,
                    due_date=deadlines.due_date,
                    acknowledge_by=deadlines.acknowledge_by,
                    target_date=deadlines.target_date,
                    closed_at=received + dt.timedelta(days=20) if closed else None,
                    outcome=Outcome.FULFILLED if closed else "",
                    closed_on_time=True if closed else None,
                )
            )
            lines_for.append((chosen, deadlines, closed, received))
        RightsRequest.objects.bulk_create(requests)
        lines = []
        for request, (chosen, deadlines, closed, received) in zip(requests, lines_for, strict=True):
            for right_pk, slug in chosen:
                lines.append(
                    RequestLine(
                        request=request,
                        right=rights_by_pk[right_pk],
                        status="completed" if closed else "open",
                        outcome=Outcome.FULFILLED if closed else "",
                        completed_at=received + dt.timedelta(days=19) if closed else None,
                        due_date=deadlines.line_due[slug],
                    )
                )
        RequestLine.objects.bulk_create(lines)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE requests_app_rightsrequest")
        cursor.execute("ANALYZE requests_app_requestline")


def measure(client: Client, url: str) -> tuple[float, int, int]:
    client.get(url)  # warm caches and templates
    timings = []
    queries = 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        queries = len(captured)
    return statistics.median(timings), queries, len(response.context["cl"].result_list)


def main() -> int:
    from compliance.roles import roles_sync
    from compliance.services import policy_baseline_load

    setup_test_environment()
    create_database()
    policy_baseline_load()
    roles_sync()
    user = get_user_model().objects.create_superuser("bench", "bench@example.invalid", "bench-password-123")
    client = Client()
    client.force_login(user)
    changelist = reverse("admin:requests_app_rightsrequest_changelist")

    results = {}
    seeded = 0
    for size in (SMALL, LARGE):
        started = time.perf_counter()
        seed(size - seeded, seeded)
        seeded = size
        print(f"seeded {size:,} requests in {time.perf_counter() - started:.1f}s")
        for name, query in PAGES:
            results[(name, size)] = measure(client, changelist + query)

    ok = True
    for name, _query in PAGES:
        (small_t, small_q, small_n), (large_t, large_q, large_n) = results[(name, SMALL)], results[(name, LARGE)]
        ratio = large_t / small_t
        print(
            f"{name}: {SMALL:,} requests {small_t * 1000:.1f} ms ({small_q} queries, {small_n} on the page); "
            f"{LARGE:,} requests {large_t * 1000:.1f} ms ({large_q} queries, {large_n} on the page); "
            f"ratio {ratio:.2f}"
        )
        if small_q != large_q:
            print(f"  FAIL: query count grew from {small_q} to {large_q}")
            ok = False
        if small_n != large_n:
            # Rendering is most of a page's time: a page showing fewer rows is not the same work.
            print(f"  (the page shows {small_n} rows at {SMALL:,} and {large_n} at {LARGE:,}: ratio for information)")
        elif ratio > 1.5:
            print("  FAIL: more than 1.5x slower at 100,000 requests")
            ok = False
    for alias in connections:
        connections[alias].creation.destroy_test_db(connections[alias].settings_dict["NAME"], verbosity=0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
