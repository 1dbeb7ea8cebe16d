"""Retention runs: count, approval, and the sweep that deletes or anonymises rows.

DANGER: this module deletes and irreversibly anonymises personal data in
Studio's systems of record. What protects it:
- a run only touches rows whose trigger is before a cutoff computed once, when
  the run starts, from the rule's period (never zero or negative: the database
  refuses such a rule);
- every batch re-reads the legal holds and passes the held subjects to the
  connector, which skips their rows; a hold on the whole table stops the sweep;
- a run that would touch more rows than the rule's approval threshold waits for
  a compliance officer's approval;
- a database lease (a conditional UPDATE of the run row, renewed with every
  batch) lets one worker at a time sweep a run; the record of a batch commits
  only while the lease is held, and on PostgreSQL the batch's own transaction
  commits after its record, so a worker that dies between the two leaves a
  record the next worker checks against the database and undoes if the batch
  was rolled back. Evidence therefore never claims rows that were not touched,
  and an interrupted, resumed run ends with the same evidence as an
  uninterrupted one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from compliance.connectors.base import BatchSizer, Connector, ConnectorError, ConnectorUnavailable, SweepBatch
from compliance.history import set_history_actor
from compliance.models import MappedTable, SystemOfRecord
from jobs.services import job_enqueue
from retention.models import (
    ACTIVE_RUN_STATUSES,
    EMPTY_EVIDENCE,
    LegalHold,
    RetentionRule,
    RetentionRun,
    RetentionRunBatch,
    RetentionRunHoldSkip,
    RunStatus,
)
from retention.selectors import cutoff_for, hold_subject, holds_for_table, table_categories, timestamp_column_for
from security.models import AccessEvent
from security.services import access_event_record

logger = logging.getLogger(__name__)

Mode = RetentionRun.Mode
Origin = RetentionRun.Origin


class RunLeaseHeld(Exception):
    """Another worker holds the run (or its last batch is still settling): try again later."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"retry in {retry_in:.0f}s")
        self.retry_in = retry_in


class _LeaseLost(Exception):
    """Our claim on the run went stale and another worker took it over: stop without recording."""


def chain_evidence(previous: str, batch_keys_sha256: str) -> str:
    """The run's evidence after a batch: SHA-256 of the previous hex digest followed by the batch's."""
    return hashlib.sha256(f"{previous}{batch_keys_sha256}".encode("ascii")).hexdigest()


def worker_identity() -> str:
    """Unique per execution attempt: a restarted worker on the same host does not inherit a dead claim."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------
# Schema check and counting
# ------------------------------------------------------------------------------


def _check_target(rule: RetentionRule) -> None:
    """Fail early, with a clear message, when the rule's table or trigger left the database."""
    system = rule.table.system
    if system.kind != system.Kind.SQL:
        return
    if system.database_alias not in connections:
        raise ConnectorError(f"System '{system.name}' names database alias '{system.database_alias}', not configured.")
    connection = connections[system.database_alias]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for column in [rule.trigger_column]:
            owner = column.table.table_name
            if owner not in tables:
                raise ConnectorError(
                    f"Table '{owner}' of system '{system.name}' no longer exists in its database: "
                    f"rule '{rule.name}' cannot run until the data map or the rule is fixed."
                )
            names = {c.name for c in connection.introspection.get_table_description(cursor, owner)}
            if column.name not in names:
                raise ConnectorError(
                    f"Column '{column.name}' of table '{owner}' (system '{system.name}') no longer exists: "
                    f"rule '{rule.name}' cannot run until the data map or the rule is fixed."
                )
        if rule.table.table_name not in tables:
            raise ConnectorError(
                f"Table '{rule.table.table_name}' of system '{system.name}' no longer exists in its database: "
                f"rule '{rule.name}' cannot run until the data map or the rule is fixed."
            )


@dataclass(frozen=True)
class _Count:
    matched: int
    to_affect: int
    per_hold: dict[int, int]


def _get_connector(system: SystemOfRecord) -> Connector:
    from compliance.connectors import get_connector

    return get_connector(system)


def _count(connector: Connector, rule: RetentionRule, cutoff: datetime, holds: list[LegalHold]) -> _Count:
    """Rows older than the cutoff, rows outside every hold, and rows under each hold (one statement)."""
    table_wide = [hold for hold in holds if not hold.has_subject]
    subject_holds = [] if table_wide else holds
    groups = [[hold_subject(hold)] for hold in subject_holds]
    if len(groups) > 1:
        groups.append([hold_subject(hold) for hold in subject_holds])  # a row under two holds is kept once
    figures = connector.sweep_counts(
        rule.table,
        timestamp_column=timestamp_column_for(rule),
        cutoff=cutoff,
        action=rule.action,
        subject_groups=groups,
    )
    matched = figures[0]
    if table_wide:
        return _Count(matched=matched, to_affect=0, per_hold={hold.pk: matched for hold in table_wide})
    per_hold = {hold.pk: figures[1 + index] for index, hold in enumerate(subject_holds)}
    held = figures[-1] if groups else 0
    return _Count(matched=matched, to_affect=matched - held, per_hold=per_hold)


# ------------------------------------------------------------------------------
# Start, approve, cancel
# ------------------------------------------------------------------------------


def _fail(run: RetentionRun, message: str) -> None:
    """Mark the run failed with a PII-free message and alert the rule's owner (through the outbox)."""
    RetentionRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error=message[:2000], finished_at=timezone.now(), worker=""
    )
    run.refresh_from_db()
    job_enqueue("retention.tasks.retention_run_failed_notify_task", run.pk)


def _enqueue_execute(run_id: int) -> None:
    # Through the outbox: a broker outage at commit delays the sweep, never turns a committed start or
    # approval into an error (the outbox resends; the "resume stalled runs" job is a second net).
    job_enqueue("retention.tasks.retention_run_execute_task", run_id)


def retention_run_start(
    *,
    rule_id: int,
    mode: str = Mode.EXECUTE,
    actor: User | None = None,
    origin: str = Origin.SCHEDULE,
    enqueue: bool = True,
) -> RetentionRun | None:
    """Start a run of a rule: count what it would sweep, then queue it, or wait for approval.

    A dry run only counts and records the counts. An execution starts at most once
    at a time per rule: starting a rule that already has a run in progress returns
    that run (the rule row is locked while counting, and the database allows one
    active run per rule). A scheduled start of a disabled rule does nothing and
    returns None. A target table or trigger column missing from the database fails
    the run with a clear error and alerts the owner. ``enqueue=False`` leaves a
    queued run for the caller to execute (the management command does, in-process).
    """
    if actor is not None and origin != Origin.SCHEDULE and not actor.has_perm("retention.start_retentionrun"):
        raise PermissionDenied("Only compliance officers start retention runs.")
    with transaction.atomic():
        rule = (
            RetentionRule.objects.select_for_update(of=("self",))
            .select_related("table__system", "trigger_column__table", "data_category")
            .get(pk=rule_id)
        )
        if mode == Mode.EXECUTE:
            if not rule.is_enabled:
                if origin == Origin.SCHEDULE:
                    return None
                raise ValidationError(f"Rule '{rule.name}' is disabled: enable it before running it.")
            existing = rule.runs.filter(mode=Mode.EXECUTE, status__in=ACTIVE_RUN_STATUSES).first()
            if existing is not None:
                return existing
        now = timezone.now()
        run = RetentionRun(
            rule=rule,
            mode=mode,
            origin=origin,
            started_by=actor,
            cutoff=cutoff_for(rule, now),
            timestamp_column=timestamp_column_for(rule),
            created_at=now,
            status=RunStatus.RUNNING,
        )
        set_history_actor(run, actor)
        try:
            with transaction.atomic():
                run.save()
        except IntegrityError:  # another start won the race between our check and insert
            return rule.runs.filter(mode=Mode.EXECUTE, status__in=ACTIVE_RUN_STATUSES).first()
        holds = holds_for_table(rule.table, extra_category_id=rule.data_category_id)
        try:
            _check_target(rule)
            count = _count(_get_connector(rule.table.system), rule, run.cutoff, holds)
        except ConnectorError as exc:
            _fail(run, str(exc))
            return run
        for hold_id, rows in count.per_hold.items():
            RetentionRunHoldSkip.objects.create(run=run, hold_id=hold_id, rows=rows)
        updates: dict[str, Any] = {"rows_matched": count.matched, "rows_to_affect": count.to_affect}
        if mode == Mode.DRY_RUN:
            updates |= {"status": RunStatus.SUCCEEDED, "finished_at": timezone.now(), "started_at": now}
        elif count.to_affect == 0:
            # Nothing to sweep (or every row held): done, with the holds' counts as the report.
            updates |= {
                "status": RunStatus.SUCCEEDED,
                "started_at": now,
                "finished_at": timezone.now(),
                "rows_skipped_held": count.matched,
            }
        elif count.to_affect > rule.approval_threshold:
            updates |= {"status": RunStatus.AWAITING_APPROVAL}
            job_enqueue("retention.tasks.retention_run_awaiting_approval_notify_task", run.pk)
        else:
            updates |= {"status": RunStatus.QUEUED}
            if enqueue:
                _enqueue_execute(run.pk)
        RetentionRun.objects.filter(pk=run.pk).update(**updates)
        run.refresh_from_db()
    logger.info("retention run %s of rule %s: %s", run.pk, rule.pk, run.status)
    return run


def retention_run_approve(*, run_id: int, actor: User, http_request: HttpRequest | None = None) -> RetentionRun:
    """A compliance officer approves a run over its threshold; it is queued for a worker."""
    if not actor.has_perm("retention.approve_retentionrun"):
        raise PermissionDenied("Only compliance officers approve retention runs.")
    with transaction.atomic():
        run = RetentionRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.AWAITING_APPROVAL:
            raise ValidationError(f"Run #{run.pk} is {run.get_status_display().lower()}, not awaiting approval.")
        run.status = RunStatus.QUEUED
        run.approved_by = actor
        run.approved_at = timezone.now()
        set_history_actor(run, actor)
        run.save(update_fields=["status", "approved_by", "approved_at"])
        access_event_record(actor=actor, action=AccessEvent.Action.APPROVED_RUN, obj=run, request=http_request)
        _enqueue_execute(run.pk)
    return run


def retention_run_cancel(*, run_id: int, actor: User) -> RetentionRun:
    """Cancel a run: at once if it has not started sweeping, else between two batches."""
    if not actor.has_perm("retention.cancel_retentionrun"):
        raise PermissionDenied("Only compliance officers cancel retention runs.")
    with transaction.atomic():
        run = RetentionRun.objects.select_for_update().get(pk=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            raise ValidationError(f"Run #{run.pk} is {run.get_status_display().lower()}: nothing to cancel.")
        run.cancel_requested_by = actor
        run.cancel_requested_at = timezone.now()
        fields = ["cancel_requested_by", "cancel_requested_at"]
        if run.status in (RunStatus.AWAITING_APPROVAL, RunStatus.QUEUED):
            run.status = RunStatus.CANCELLED
            run.finished_at = run.cancel_requested_at
            fields += ["status", "finished_at"]
        set_history_actor(run, actor)
        run.save(update_fields=fields)
    return run


# ------------------------------------------------------------------------------
# Execute
# ------------------------------------------------------------------------------


def _claim(run_id: int, worker: str) -> RetentionRun | None:
    """Take the run's lease, or say why not: None when there is nothing to do."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RETENTION_LEASE_SECONDS)
    claimed = (
        RetentionRun.objects.filter(pk=run_id, mode=Mode.EXECUTE, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        .filter(Q(worker="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        .update(worker=worker, heartbeat_at=now, status=RunStatus.RUNNING)
    )
    run = RetentionRun.objects.select_related("rule__table__system", "rule__trigger_column__table").get(pk=run_id)
    if claimed:
        if run.started_at is None:
            RetentionRun.objects.filter(pk=run_id).update(started_at=now)
            run.started_at = now
        return run
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        left = settings.RETENTION_LEASE_SECONDS - (now - run.heartbeat_at).total_seconds()
        raise RunLeaseHeld(max(1.0, left))
    return None  # finished, failed, cancelled or still awaiting approval


def _release(run_id: int, worker: str, **updates: Any) -> None:
    RetentionRun.objects.filter(pk=run_id, worker=worker).update(worker="", **updates)


def _reconcile_last_batch(run: RetentionRun) -> None:
    """After a crash between a batch's record and its commit, undo the record if the batch rolled back."""
    last = run.batch_records.order_by("-number").first()
    if last is None or last.platform_xid is None:
        return
    alias = run.rule.table.system.database_alias
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT txid_status(%s)", [last.platform_xid])
        state = cursor.fetchone()[0]
    if state == "in progress":
        raise RunLeaseHeld(2.0)
    # NULL means the transaction is too old to look up: it finished long ago and, since its record
    # committed first, it was committed.
    if state != "aborted":
        return
    with transaction.atomic():
        last.delete()
        previous = run.batch_records.order_by("-number").first()
        RetentionRun.objects.filter(pk=run.pk).update(
            batches=last.number - 1,
            checkpoint=last.checkpoint_from,
            rows_affected=F("rows_affected") - last.affected,
            rows_skipped_held=F("rows_skipped_held") - last.skipped_held,
            evidence_sha256=previous.evidence_sha256 if previous else EMPTY_EVIDENCE,
        )
    logger.warning("retention run %s: batch %s was rolled back by its database; it is redone", run.pk, last.number)
    run.refresh_from_db()


def _record(run: RetentionRun, worker: str, batch: SweepBatch, started: float, xid: int | None) -> None:
    """Record one batch and renew the lease, in one transaction of the back office's database.

    ``run`` holds the run's checkpoint, batch count and evidence as this worker
    last recorded them (it holds the lease, nobody else writes them); the update
    is conditional on the lease, so a worker that lost it records nothing and
    raises ``_LeaseLost``, which also rolls back the batch on PostgreSQL.
    """
    duration_ms = (time.perf_counter() - started) * 1000
    evidence = chain_evidence(run.evidence_sha256, batch.keys_sha256) if batch.affected else run.evidence_sha256
    number = run.batches + 1
    checkpoint = batch.checkpoint if batch.checkpoint is not None else run.checkpoint
    with transaction.atomic():
        RetentionRunBatch.objects.create(
            run_id=run.pk,
            number=number,
            checkpoint_from=run.checkpoint,
            checkpoint_to=checkpoint,
            matched=batch.matched,
            affected=batch.affected,
            skipped_held=batch.skipped_held,
            keys_sha256=batch.keys_sha256,
            evidence_sha256=evidence,
            duration_ms=duration_ms,
            platform_xid=xid,
        )
        updated = RetentionRun.objects.filter(pk=run.pk, worker=worker).update(
            batches=number,
            checkpoint=checkpoint,
            rows_affected=F("rows_affected") + batch.affected,
            rows_skipped_held=F("rows_skipped_held") + batch.skipped_held,
            evidence_sha256=evidence,
            longest_batch_ms=Greatest(F("longest_batch_ms"), duration_ms),
            heartbeat_at=timezone.now(),
        )
        if not updated:
            raise _LeaseLost
    run.batches, run.checkpoint, run.evidence_sha256 = number, checkpoint, evidence
    run.rows_affected += batch.affected
    run.rows_skipped_held += batch.skipped_held


def _sweep_one(
    connector: Connector, run: RetentionRun, table: MappedTable, worker: str, held: Any, batch_size: int | None = None
) -> SweepBatch:
    """One batch in one short transaction of the system's database, recorded before that transaction commits.

    ``batch_size``: the keys this batch takes (the run's ``BatchSizer``); the rule's batch size when not given.
    """
    alias = table.system.database_alias
    kwargs = {
        "timestamp_column": run.timestamp_column,
        "cutoff": run.cutoff,
        "action": run.rule.action,
        "checkpoint": run.checkpoint,
        "batch_size": batch_size or run.rule.batch_size,
        "held_subjects": held,
    }
    started = time.perf_counter()
    if alias == DEFAULT_DB_ALIAS:
        # The back office's own tables: the batch and its record commit together.
        with transaction.atomic():
            batch = connector.sweep_batch(table, **kwargs)
            _record(run, worker, batch, started, None)
        return batch
    if alias and connections[alias].vendor == "postgresql":
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT txid_current()")
                xid = cursor.fetchone()[0]
            batch = connector.sweep_batch(table, **kwargs)
            _record(run, worker, batch, started, xid)
        return batch
    # Other databases (the SQLite demo) and webhook systems: the batch commits on its own, then its record.
    batch = connector.sweep_batch(table, **kwargs)
    _record(run, worker, batch, started, None)
    return batch


def retention_run_execute(*, run_id: int, worker: str | None = None) -> RetentionRun | None:
    """Sweep a queued or interrupted run to the end, batch after batch, from its checkpoint.

    Takes the run's lease first (``RunLeaseHeld`` if a live worker has it: the
    task retries later); returns at once when the run is finished, cancelled or
    awaiting approval. Before each batch it honours a cancellation and re-reads
    the legal holds. A connector error or a missing table fails the run with a
    clear, PII-free message and alerts the owner.
    """
    worker = worker or worker_identity()
    run = _claim(run_id, worker)
    if run is None:
        return RetentionRun.objects.get(pk=run_id)
    rule = run.rule
    table = rule.table
    try:
        _reconcile_last_batch(run)
        _check_target(rule)
        connector = _get_connector(table.system)
        categories = table_categories(table) | {rule.data_category_id}  # the data map does not change mid-run
        # The rule's batch size is the most keys one batch may take; batches are sized to last about
        # RETENTION_BATCH_TARGET_MS within it (a resumed run starts small again).
        sizer = BatchSizer(ceiling=rule.batch_size, target_ms=settings.RETENTION_BATCH_TARGET_MS or None)
        while True:
            current = RetentionRun.objects.values("cancel_requested_at", "worker").get(pk=run_id)
            if current["worker"] != worker:
                raise _LeaseLost
            if current["cancel_requested_at"] is not None:
                _release(run_id, worker, status=RunStatus.CANCELLED, finished_at=timezone.now())
                break
            holds = holds_for_table(table, categories=categories)
            table_wide = [hold for hold in holds if not hold.has_subject]
            if table_wide:
                _stop_for_table_hold(run, worker, table_wide[0])
                break
            batch = _sweep_one(connector, run, table, worker, [hold_subject(hold) for hold in holds], sizer.size)
            if batch.done:
                _release(run_id, worker, status=RunStatus.SUCCEEDED, finished_at=timezone.now())
                break
            sizer.record(batch.duration_ms)
    except _LeaseLost:
        logger.warning("retention run %s: lease taken over by another worker; this one stops", run_id)
    except RunLeaseHeld:
        raise
    except (OperationalError, ConnectorUnavailable) as exc:
        # A restart or failover of the system's database or of the back office's own: the batch in flight
        # rolled back with its transaction. Whichever side noticed first, the run fails cleanly and the
        # task retries, resuming from the checkpoint.
        _interrupted(run_id, worker, exc)
        raise
    except ConnectorError as exc:
        with transaction.atomic():
            _fail(run, str(exc))
    except Exception as exc:
        # Database messages can quote row values: log and store the kind of error only.
        logger.error("retention run %s failed with %s", run_id, type(exc).__name__)
        with transaction.atomic():
            _fail(run, f"Unexpected error ({type(exc).__name__}) while sweeping; see the worker log for run #{run_id}.")
    run.refresh_from_db()
    return run


def _stop_for_table_hold(run: RetentionRun, worker: str, hold: LegalHold) -> None:
    """A hold placed on the whole table mid-run: stop, and report what is left as skipped under it."""
    left = max(0, run.rows_to_affect - run.rows_affected)
    with transaction.atomic():
        skip, _ = RetentionRunHoldSkip.objects.get_or_create(run=run, hold=hold)
        RetentionRunHoldSkip.objects.filter(pk=skip.pk).update(rows=F("rows") + left)
        RetentionRun.objects.filter(pk=run.pk, worker=worker).update(
            rows_skipped_held=F("rows_skipped_held") + left,
            status=RunStatus.SUCCEEDED,
            finished_at=timezone.now(),
            worker="",
        )


def retention_runs_resume_stalled() -> list[int]:
    """Queue again the runs whose worker stopped renewing its lease (or never picked them up).

    Beat calls this every few minutes, so a run survives a worker that died with
    its message lost; a queued message redelivered meanwhile is harmless (the
    lease lets one worker through).
    """
    stale = timezone.now() - timedelta(seconds=settings.RETENTION_LEASE_SECONDS)
    runs = RetentionRun.objects.filter(mode=Mode.EXECUTE).filter(
        Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=RunStatus.QUEUED, created_at__lt=stale, heartbeat_at__isnull=True)
        | Q(status=RunStatus.QUEUED, heartbeat_at__lt=stale)
    )
    ids = list(runs.values_list("pk", flat=True))
    for run_id in ids:
        _enqueue_execute(run_id)
    return ids


INTERRUPTED = (
    "Interrupted after batch {batches}: the connection to a database was lost ({kind}). The batch in flight "
    "was rolled back; the run resumes from its checkpoint when the database answers."
)


def _interrupted(run_id: int, worker: str, exc: BaseException) -> None:
    """A database connection was lost mid-sweep (a restart, a failover): fail the run cleanly and let go of it.

    The batch in flight was rolled back with its transaction, or its record is undone by the next claim's
    check. The run is marked failed with a PII-free message (the kind of error, never the database's
    text) and its lease released, so the retried task resumes it from the checkpoint at once. If the
    back office's own database is still unreachable nothing can be recorded: the lease then goes stale
    instead, and the retried task takes the run over from the checkpoint all the same.
    """
    kind = getattr(exc, "kind", type(exc).__name__)
    logger.warning("retention run %s interrupted by %s; it resumes from its checkpoint", run_id, kind)
    for connection in connections.all(initialized_only=True):
        # Every connection of a restarted server is gone, not only the one that raised: reconnect.
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    try:
        with transaction.atomic():
            run = RetentionRun.objects.select_for_update().filter(pk=run_id, worker=worker).first()
            if run is None or run.status != RunStatus.RUNNING:
                return
            run.status = RunStatus.FAILED
            run.error = INTERRUPTED.format(batches=run.batches, kind=kind)
            run.finished_at = timezone.now()
            run.worker = ""
            run.save(update_fields=["status", "error", "finished_at", "worker"])
    except OperationalError:
        logger.warning("retention run %s: the back office database is unreachable too; its lease will expire", run_id)


def retention_run_resume(*, run_id: int, actor: User | None = None, enqueue: bool = True) -> RetentionRun:
    """Queue a failed run again, to continue from its checkpoint: same cutoff, same evidence chain.

    The worker does this itself after a lost database connection; a compliance officer can do it once
    the cause of another failure is fixed. A run that is not failed is left as it is when the system
    asks (the retried task finds it already resumed) and refused when a person does.
    """
    if actor is not None and not actor.has_perm("retention.start_retentionrun"):
        raise PermissionDenied("Only compliance officers resume retention runs.")
    with transaction.atomic():
        run = RetentionRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.FAILED or run.mode != Mode.EXECUTE:
            if actor is None:
                return run
            raise ValidationError(f"Run #{run.pk} is {run.get_status_display().lower()}: only a failed sweep resumes.")
        if RetentionRun.objects.filter(rule_id=run.rule_id, status__in=ACTIVE_RUN_STATUSES).exists():
            if actor is None:
                return run  # another run of the rule took over these rows: this one stays failed
            raise ValidationError("Another run of this rule is in progress; it sweeps the same rows.")
        run.status = RunStatus.QUEUED
        run.error = ""
        run.finished_at = None
        run.worker = ""
        run.heartbeat_at = None
        set_history_actor(run, actor)
        run.save(update_fields=["status", "error", "finished_at", "worker", "heartbeat_at"])
        if enqueue:
            _enqueue_execute(run.pk)
    logger.info("retention run %s resumed from batch %s", run.pk, run.batches)
    return run


def retention_run_fail_unreachable(*, run_id: int) -> None:
    """The system's database stayed unreachable through every retry: fail the run and alert the owner."""
    run = RetentionRun.objects.select_related("rule").get(pk=run_id)
    interrupted = run.status == RunStatus.FAILED and run.error.startswith("Interrupted after batch")
    if run.status not in ACTIVE_RUN_STATUSES and not interrupted:
        return
    with transaction.atomic():
        _fail(run, "A database stayed unreachable through every retry; the run stopped at its last checkpoint.")
