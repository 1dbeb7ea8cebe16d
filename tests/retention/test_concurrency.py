"""One rule, one run at a time; a batch interrupted between its two commits is neither lost nor counted twice.

These tests commit for real (transactional database tests): the lock, the lease
and the transaction-status check only mean something across real transactions.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from compliance.connectors import get_connector
from retention.models import RetentionRun, RunStatus
from retention.services import RunLeaseHeld, retention_run_execute, retention_run_start
from retention.services.runs import _claim, _LeaseLost, _record, _sweep_one
from sample_platform import models as pm
from tests.retention.platform import ids, real_db, uninterrupted_evidence


def in_threads(target, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def work(index):
        barrier.wait()
        try:
            results[index] = target()
        except Exception as exc:  # reported to the test, not swallowed
            results[index] = exc
        finally:
            for alias in ("default", "platform"):
                connections[alias].close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@real_db
def test_concurrent_starts_of_the_same_rule_make_one_run(rule):
    results = in_threads(lambda: retention_run_start(rule_id=rule.pk, enqueue=False).pk, 4)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert RetentionRun.objects.filter(rule=rule, mode="execute").count() == 1


@real_db
def test_concurrent_workers_on_one_run_sweep_it_once(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    results = in_threads(lambda: retention_run_execute(run_id=run.pk), 3)
    held_back = [r for r in results if isinstance(r, RunLeaseHeld)]
    assert all(isinstance(r, RunLeaseHeld | RetentionRun) for r in results), results
    assert held_back or all(r.status == RunStatus.SUCCEEDED for r in results)
    run.refresh_from_db()
    assert (run.status, run.rows_affected) == (RunStatus.SUCCEEDED, 9)
    assert list(run.batch_records.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert run.evidence_sha256 == uninterrupted_evidence([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert ids(pm.VisitorEvent) == [50]


@real_db
def test_a_batch_recorded_but_rolled_back_by_a_crash_is_undone_and_redone(rule, settings):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    claimed = _claim(run.pk, "worker-that-dies")
    connector = get_connector(rule.table.system)
    # The worker records the batch (committed in the back office), then dies before the
    # platform's transaction commits: PostgreSQL rolls the batch back.
    with pytest.raises(RuntimeError), transaction.atomic(using="platform"):
        with connections["platform"].cursor() as cursor:
            cursor.execute("SELECT txid_current()")
            xid = cursor.fetchone()[0]
        batch = connector.sweep_batch(
            rule.table,
            timestamp_column="created_at",
            cutoff=claimed.cutoff,
            action="delete",
            checkpoint=None,
            batch_size=3,
            held_subjects=[],
        )
        _record(claimed, "worker-that-dies", batch, 0.0, xid)
        raise RuntimeError("SIGKILL")
    run.refresh_from_db()
    assert (run.batches, run.rows_affected) == (1, 3) and ids(pm.VisitorEvent) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 50]

    RetentionRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    run = retention_run_execute(run_id=run.pk)
    assert (run.status, run.rows_affected, run.batches) == (RunStatus.SUCCEEDED, 9, 4)
    assert run.evidence_sha256 == uninterrupted_evidence([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert ids(pm.VisitorEvent) == [50]


@real_db
def test_a_worker_that_lost_its_lease_mid_batch_changes_nothing(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    claimed = _claim(run.pk, "slow-worker")
    RetentionRun.objects.filter(pk=run.pk).update(worker="other-worker")  # taken over while stalled
    with pytest.raises(_LeaseLost):
        _sweep_one(get_connector(rule.table.system), claimed, rule.table, "slow-worker", [])
    assert ids(pm.VisitorEvent) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 50]
    assert not claimed.batch_records.exists()


@real_db
def test_a_live_workers_run_is_not_taken_over(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    _claim(run.pk, "live-worker")
    with pytest.raises(RunLeaseHeld):
        retention_run_execute(run_id=run.pk, worker="second-worker")
    assert ids(pm.VisitorEvent) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 50]
