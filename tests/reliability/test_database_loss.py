"""PostgreSQL connections lost mid-sweep: the run fails cleanly (failed, with a PII-free error, the batch in
flight rolled back) and resumes from its checkpoint to the same end state and the same evidence as a run
nobody interrupted.

The machine's PostgreSQL is shared with other test runs, so it is not restarted here. What a restart does to
a worker is done instead: every connection of the worker process (tagged with its own ``application_name``)
is ended by the server with ``pg_terminate_backend``, mid-batch, exactly as a restart or a failover ends
them; the worker sees the connection drop and reconnects to the same server.
"""

import uuid

import pytest
from django.db import connections

from compliance.models import DataCategory, LegalBasis
from config.celery_app import app as celery_app
from retention.models import RetentionRun, RunStatus
from retention.services import legal_hold_place, retention_rule_create, retention_run_execute, retention_run_start
from sample_platform import models as pm
from tests.retention.platform import BATCH, OLD_ROWS, build_platform_map, ids, run_state, seed_rows
from tests.support.processes import start_worker, stop_process, url_for, wait_for

LEASE_SECONDS = 2
PERSONAL = ("@", "visitor", "user_agent", "ip_address")


def _terminate(application_name: str) -> int:
    """End every server connection of that application, on the server side (both databases)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_a_sweep_whose_database_connections_drop_fails_cleanly_and_resumes_to_the_same_end(baseline, officer, settings):
    settings.RETENTION_LEASE_SECONDS = LEASE_SECONDS
    pmap = build_platform_map()
    rule = retention_rule_create(
        actor=officer,
        name="Website visitor events: 90 days",
        data_category=DataCategory.objects.get(slug="api-usage"),
        table=pmap.tables["visitor_events"],
        trigger_column=pmap.columns["visitor_events.created_at"],
        period=90,
        period_unit="days",
        action="delete",
        justification="Website analytics are kept 90 days.",
        legal_basis=LegalBasis.objects.get(slug="legitimate-interests"),
        batch_size=BATCH,
        approval_threshold=OLD_ROWS,
    )
    legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="7")

    # The reference: one uninterrupted run in this process.
    seed_rows()
    reference = retention_run_start(rule_id=rule.pk, enqueue=False)
    retention_run_execute(run_id=reference.pk)
    expected_state = run_state(reference)
    expected_rows = ids(pm.VisitorEvent)
    assert expected_state[0] == RunStatus.SUCCEEDED

    # The same rows again, swept by a real worker whose connections are cut mid-run.
    seed_rows()
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    tag = f"sweep-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        "sweeper",
        DATABASE_URL=url_for("default", application_name=tag),
        PLATFORM_DATABASE_URL=url_for("platform", application_name=tag),
        CELERY_VISIBILITY_TIMEOUT="3",
        RETENTION_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    try:
        run = retention_run_start(rule_id=rule.pk)
        wait_for(lambda: RetentionRun.objects.filter(pk=run.pk, batches__gte=20).exists())
        assert _terminate(tag) >= 2  # the worker's back office and platform connections

        # Failed cleanly: the status and a PII-free reason are recorded (in the run's history, since the
        # retry resumes it within seconds), the lease let go.
        failed = wait_for(
            lambda: run.history.filter(status=RunStatus.FAILED).order_by("history_date").first(), timeout=60
        )
        assert failed.error.startswith(f"Interrupted after batch {failed.batches}: the connection to a database")
        assert not any(word in failed.error for word in PERSONAL)
        assert 20 <= failed.batches < expected_state[4][-1][0]

        # Resumed from the checkpoint by the retried task, to the end.
        wait_for(lambda: RetentionRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists(), timeout=120)
    finally:
        stop_process(worker)

    assert run_state(run) == expected_state
    assert ids(pm.VisitorEvent) == expected_rows
    statuses = list(run.history.order_by("history_date").values_list("status", flat=True))
    assert statuses.index(RunStatus.FAILED) < statuses.index(RunStatus.QUEUED, statuses.index(RunStatus.FAILED))
    run.refresh_from_db()
    assert run.error == ""
