"""Real worker processes: a sweep killed with SIGKILL mid-run resumes from its checkpoint,
and ends with the same rows gone and the same evidence as a run nobody interrupted."""

import os
import signal

import pytest

from compliance.models import DataCategory, LegalBasis
from retention.models import RetentionRun, RunStatus
from retention.services import legal_hold_place, retention_rule_create, retention_run_execute, retention_run_start
from sample_platform import models as pm
from tests.retention.platform import BATCH, OLD_ROWS, build_platform_map, ids, run_state, seed_rows
from tests.support.processes import wait_for

LEASE_SECONDS = 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, databases=["default", "platform"])
def test_a_sweep_killed_mid_run_resumes_and_matches_an_uninterrupted_run(baseline, officer, settings, workers):
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

    # The reference: the same rows swept by one uninterrupted run in this process.
    seed_rows()
    reference = retention_run_start(rule_id=rule.pk, enqueue=False)
    retention_run_execute(run_id=reference.pk)
    expected_state = run_state(reference)
    expected_rows = ids(pm.VisitorEvent)
    assert expected_state[0] == RunStatus.SUCCEEDED
    assert len(expected_rows) == 50 + OLD_ROWS // 97

    # The same rows again, swept by a real worker that is killed mid-run.
    seed_rows()
    # A killed worker's job comes back after 3 s; its claim on the run is stale after 2 s.
    worker_env = {"CELERY_VISIBILITY_TIMEOUT": "3", "RETENTION_LEASE_SECONDS": str(LEASE_SECONDS)}
    first = workers("first", **worker_env)  # empties the queue first
    run = retention_run_start(rule_id=rule.pk)  # queued; enqueued for the worker on commit
    wait_for(lambda: RetentionRun.objects.filter(pk=run.pk, batches__gte=20).exists(), interval=0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=15)
    killed_at = RetentionRun.objects.get(pk=run.pk)
    assert killed_at.status == RunStatus.RUNNING
    assert 20 <= killed_at.batches < expected_state[4][-1][0]
    assert len(ids(pm.VisitorEvent)) > len(expected_rows)

    # The job is redelivered (acks late) to a new worker, which waits for the dead
    # worker's claim to go stale and continues from the checkpoint.
    workers("second", **worker_env)
    wait_for(lambda: RetentionRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists(), timeout=120)

    assert run_state(run) == expected_state
    assert ids(pm.VisitorEvent) == expected_rows
