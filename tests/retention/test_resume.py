"""A failed sweep resumes from its checkpoint: by itself after a lost database connection (the task's
retry), or by a compliance officer once the cause is fixed; the evidence is the uninterrupted run's."""

import pytest
import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError

from compliance.connectors import get_connector
from retention.models import RunStatus
from retention.services import retention_run_execute, retention_run_resume, retention_run_start
from retention.services.runs import _claim, _interrupted, _sweep_one
from sample_platform import models as pm
from tests.retention.platform import ids, real_db, uninterrupted_evidence


@real_db
def test_a_lost_connection_fails_the_run_cleanly_and_resuming_finishes_it_with_the_same_evidence(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    claimed = _claim(run.pk, "worker-1")
    _sweep_one(get_connector(rule.table.system), claimed, rule.table, "worker-1", [])
    _interrupted(run.pk, "worker-1", OperationalError("server closed the connection unexpectedly"))

    run.refresh_from_db()
    assert (run.status, run.worker, run.batches) == (RunStatus.FAILED, "", 1)
    assert run.error.startswith("Interrupted after batch 1: the connection to a database was lost (OperationalError)")
    assert "server closed" not in run.error  # the kind of error only, never the database's text

    retention_run_resume(run_id=run.pk)  # what the retried task does first
    run = retention_run_execute(run_id=run.pk)
    assert (run.status, run.rows_affected, run.error) == (RunStatus.SUCCEEDED, 9, "")
    assert run.evidence_sha256 == uninterrupted_evidence([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert ids(pm.VisitorEvent) == [50]
    assert list(run.history.order_by("history_date").values_list("status", flat=True))[-2:] == ["failed", "queued"]


@real_db
def test_an_interruption_of_a_worker_that_lost_its_lease_records_nothing(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    _claim(run.pk, "worker-2")
    _interrupted(run.pk, "some-other-worker", OperationalError())
    run.refresh_from_db()
    assert (run.status, run.worker, run.error) == (RunStatus.RUNNING, "worker-2", "")


@real_db
def test_only_officers_resume_and_only_a_failed_sweep(rule, officer, agent):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    _claim(run.pk, "worker-3")
    _interrupted(run.pk, "worker-3", OperationalError())
    with pytest.raises(PermissionDenied):
        retention_run_resume(run_id=run.pk, actor=agent)
    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    before = queued.llen("celery")
    retention_run_resume(run_id=run.pk, actor=officer)
    assert queued.llen("celery") == before + 1  # the sweep is handed to a worker on commit
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.history.first().history_user == officer
    with pytest.raises(ValidationError, match="only a failed sweep resumes"):
        retention_run_resume(run_id=run.pk, actor=officer)
    assert retention_run_resume(run_id=run.pk).status == RunStatus.QUEUED  # the system asking again: no change


@real_db
def test_a_failed_runs_page_offers_officers_the_resume_button(client, rule, officer, auditor):
    from django.urls import reverse

    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    _claim(run.pk, "worker-4")
    _interrupted(run.pk, "worker-4", OperationalError())
    page = reverse("admin:retention_retentionrun_change", args=[run.pk])
    client.force_login(auditor)
    assert b"Resume from the checkpoint" not in client.get(page).content
    assert client.post(reverse("admin:retention_run_resume", args=[run.pk])).status_code == 403
    client.force_login(officer)
    assert b"Resume from the checkpoint (batch 0)" in client.get(page).content
    response = client.post(reverse("admin:retention_run_resume", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
