"""Sweeps end to end on the sample platform database, through the real SQL connector.

Time is frozen on 15 March 2026 (London): a 90-day rule's cutoff is midnight at
the start of 15 December 2025, a 30-day rule's midnight at the start of 13 February.
"""

import hashlib
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings

from compliance.connectors import BatchSizer
from compliance.models import DataCategory, LegalBasis, MappedColumn, MappedTable
from jobs.models import PendingJob
from retention.models import RetentionRun, RunStatus
from retention.services import (
    legal_hold_place,
    legal_hold_release,
    retention_rule_create,
    retention_run_approve,
    retention_run_cancel,
    retention_run_execute,
    retention_run_start,
)
from retention.services.rules import mapped_column_lookup
from retention.services.runs import chain_evidence
from sample_platform import models as pm
from tests.retention.platform import account, api_request, build_platform_map, digest, ids, visitor_events

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=LONDON)
CUTOFF_90 = datetime(2025, 12, 15, 0, 0, tzinfo=LONDON)
both = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pmap(baseline, frozen):
    return build_platform_map()


@pytest.fixture
def rule_for(pmap, officer):
    def make(table="visitor_events", **overrides):
        values = {
            "actor": officer,
            "name": f"{table} {overrides.get('action', 'delete')}",
            "data_category": DataCategory.objects.get(slug="api-usage"),
            "table": pmap.tables[table],
            "trigger_column": pmap.columns.get(f"{table}.created_at"),
            "period": 90,
            "period_unit": "days",
            "action": "delete",
            "justification": "Website analytics are kept 90 days.",
            "legal_basis": LegalBasis.objects.get(slug="legitimate-interests"),
            "owner": officer,
            "batch_size": 3,
        }
        values.update(overrides)
        return retention_rule_create(**values)

    return make


def sweep(rule, *, actor=None, mode="execute"):
    """Start a run as beat would (without a broker) and let this process be the worker."""
    run = retention_run_start(
        rule_id=rule.pk, mode=mode, actor=actor, origin="admin" if actor else "schedule", enqueue=False
    )
    if run.status == RunStatus.QUEUED:
        run = retention_run_execute(run_id=run.pk)
    return run


@both
def test_a_row_one_second_inside_the_period_survives_and_one_second_outside_goes(pmap, rule_for):
    visitor_events(
        [
            (1, None, CUTOFF_90 - timedelta(days=400)),
            (2, None, CUTOFF_90 - timedelta(seconds=1)),
            (3, None, CUTOFF_90),
            (4, None, CUTOFF_90 + timedelta(seconds=1)),
            (5, None, NOW - timedelta(hours=1)),
        ]
    )
    run = sweep(rule_for())
    assert run.status == RunStatus.SUCCEEDED
    assert run.cutoff == CUTOFF_90
    assert ids(pm.VisitorEvent) == [3, 4, 5]
    assert (run.rows_matched, run.rows_to_affect, run.rows_affected, run.rows_skipped_held) == (2, 2, 2, 0)


@both
def test_a_run_the_next_day_moves_the_cutoff_by_exactly_one_day(pmap, rule_for):
    visitor_events(
        [(1, None, CUTOFF_90 + timedelta(hours=23, minutes=59, seconds=59)), (2, None, CUTOFF_90 + timedelta(days=1))]
    )
    rule = rule_for()
    assert sweep(rule).rows_affected == 0
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        run = sweep(rule)
    assert run.rows_affected == 1 and ids(pm.VisitorEvent) == [2]


@both
def test_evidence_chains_the_sha256_of_the_affected_keys_of_each_batch(pmap, rule_for):
    visitor_events([(pk, None, CUTOFF_90 - timedelta(days=pk)) for pk in range(1, 9)] + [(20, None, NOW)])
    run = sweep(rule_for(batch_size=3))
    batches = list(run.batch_records.order_by("number"))
    swept = [b.keys_sha256 for b in batches if b.affected]  # a last, empty batch may confirm the end
    assert swept == [digest([1, 2, 3]), digest([4, 5, 6]), digest([7, 8])]
    expected = hashlib.sha256(b"").hexdigest()
    for keys in ([1, 2, 3], [4, 5, 6], [7, 8]):
        expected = chain_evidence(expected, digest(keys))
    assert run.evidence_sha256 == expected == batches[-1].evidence_sha256
    assert (run.batches, run.rows_affected) == (len(batches), 8) and run.checkpoint in {"8", "20"}
    assert run.longest_batch_ms > 0


@both
def test_a_dry_run_counts_and_changes_nothing(pmap, rule_for, officer):
    visitor_events([(1, None, CUTOFF_90 - timedelta(days=1)), (2, None, NOW)])
    run = sweep(rule_for(), actor=officer, mode="dry_run")
    assert (run.mode, run.status, run.rows_matched, run.rows_affected) == ("dry_run", RunStatus.SUCCEEDED, 1, 0)
    assert ids(pm.VisitorEvent) == [1, 2]
    assert not run.batch_records.exists()


# ------------------------------------------------------------------------------
# Legal holds at every scope
# ------------------------------------------------------------------------------


@pytest.fixture
def two_accounts_old_requests(pmap):
    old = CUTOFF_90 - timedelta(days=10)
    account(1, created=old)
    account(2, created=old)
    for pk in range(1, 7):
        api_request(pk, 1 if pk <= 3 else 2, old + timedelta(minutes=pk))
    return old


def api_rule(rule_for, **overrides):
    return rule_for("api_requests", **overrides)


@both
def test_a_subject_hold_skips_that_subjects_rows_and_the_run_says_under_which_hold(
    two_accounts_old_requests, rule_for, officer
):
    hold = legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="1")
    run = sweep(api_rule(rule_for))
    assert ids(pm.ApiRequest) == [1, 2, 3]
    assert (run.rows_matched, run.rows_to_affect, run.rows_affected, run.rows_skipped_held) == (6, 3, 3, 3)
    assert [(s.hold, s.rows) for s in run.hold_skips.all()] == [(hold, 3)]


@both
def test_a_hold_naming_only_the_email_still_holds_the_accounts_rows(two_accounts_old_requests, rule_for, officer):
    legal_hold_place(actor=officer, name="Dispute", reason="dispute", subject_email="PERSON2@example.com")
    run = sweep(api_rule(rule_for))
    assert ids(pm.ApiRequest) == [4, 5, 6] and run.rows_skipped_held == 3


@pytest.mark.parametrize("scope", ["category", "system", "table"])
@both
def test_a_hold_on_a_category_system_or_table_stops_the_sweep_and_counts_every_row(
    two_accounts_old_requests, rule_for, officer, pmap, scope
):
    values = {
        "category": {"data_category": DataCategory.objects.get(slug="api-usage")},
        "system": {"system": pmap.system},
        "table": {"table": pmap.tables["api_requests"]},
    }[scope]
    hold = legal_hold_place(actor=officer, name=f"Freeze {scope}", reason="regulator_inquiry", **values)
    run = sweep(api_rule(rule_for))
    assert ids(pm.ApiRequest) == [1, 2, 3, 4, 5, 6]
    assert (run.status, run.rows_affected, run.rows_skipped_held) == (RunStatus.SUCCEEDED, 0, 6)
    assert [(s.hold, s.rows) for s in run.hold_skips.all()] == [(hold, 6)]


@both
def test_a_hold_on_another_table_or_category_does_not_stop_the_sweep(
    two_accounts_old_requests, rule_for, officer, pmap
):
    legal_hold_place(actor=officer, name="Invoices", reason="dispute", table=pmap.tables["invoices"])
    legal_hold_place(
        actor=officer, name="Support", reason="dispute", data_category=DataCategory.objects.get(slug="support")
    )
    assert sweep(api_rule(rule_for)).rows_affected == 6


@both
def test_a_released_or_expired_hold_no_longer_protects(two_accounts_old_requests, rule_for, officer):
    hold = legal_hold_place(actor=officer, name="Settled", reason="litigation", subject_account_ref="1")
    legal_hold_place(
        actor=officer,
        name="Past",
        reason="dispute",
        subject_account_ref="2",
        starts_at=NOW - timedelta(days=30),
        ends_at=NOW - timedelta(days=1),
    )
    legal_hold_release(hold_id=hold.pk, actor=officer, reason="Case settled")
    run = sweep(api_rule(rule_for))
    assert ids(pm.ApiRequest) == [] and run.rows_skipped_held == 0


# ------------------------------------------------------------------------------
# Anonymise, subject events
# ------------------------------------------------------------------------------


@both
def test_anonymise_drops_ip_and_user_agent_but_keeps_tokens_cost_and_model(two_accounts_old_requests, rule_for):
    api_request(7, 1, NOW - timedelta(days=1))
    run = sweep(api_rule(rule_for, action="anonymise"))
    assert run.rows_affected == 6
    old = pm.ApiRequest.objects.get(pk=2)
    assert (old.ip_address, old.user_agent) == (None, None)
    assert (old.prompt_tokens, old.completion_tokens, str(old.cost), old.model_id) == (
        102,
        50,
        "0.000123",
        "openai/gpt-4o-mini",
    )
    recent = pm.ApiRequest.objects.get(pk=7)
    assert recent.ip_address is not None and recent.user_agent is not None
    again = sweep(run.rule)
    assert (again.rows_matched, again.rows_affected) == (0, 0)  # already anonymised rows are left alone


@both
def test_messages_are_swept_by_their_tickets_closure_a_subject_event(pmap, officer):
    closed_long_ago = NOW - timedelta(days=500)
    ticket_old = pm.SupportTicket.objects.create(
        pk=1,
        requester_email="a@example.com",
        subject="Refund",
        status="closed",
        created_at=closed_long_ago,
        closed_at=closed_long_ago,
    )
    ticket_open = pm.SupportTicket.objects.create(
        pk=2, requester_email="b@example.com", subject="Help", status="open", created_at=closed_long_ago
    )
    for pk, ticket in [(1, ticket_old), (2, ticket_old), (3, ticket_open)]:
        pm.SupportMessage.objects.create(
            pk=pk, ticket=ticket, author="customer", body="Hello", created_at=closed_long_ago
        )
    rule = retention_rule_create(
        actor=officer,
        name="Support messages: 12 months after the ticket closed",
        data_category=DataCategory.objects.get(slug="support"),
        table=pmap.tables["support_messages"],
        trigger="subject_event",
        trigger_column=pmap.columns["support_tickets.closed_at"],
        period=12,
        period_unit="months",
        action="delete",
        justification="Support conversations are kept 12 months after closure.",
        legal_basis=LegalBasis.objects.get(slug="legitimate-interests"),
    )
    run = sweep(rule)
    assert run.timestamp_column == "support_tickets.closed_at"
    assert ids(pm.SupportMessage) == [3]  # the open ticket's message stays: its ticket never closed


@both
def test_api_keys_are_swept_30_days_after_their_account_closed_an_event_reached_through_the_subject_key(pmap, officer):
    """API keys name their account by id (no parent in the map): the account's closure is still an event."""
    keys = MappedTable.objects.create(
        system=pmap.system, table_name="api_keys", subject_column="account_id", subject_key="account_id"
    )
    MappedColumn.objects.create(
        table=keys,
        name="key_hash",
        data_category=DataCategory.objects.get(slug="account-identity"),
        treatment="delete_row",
    )
    closed_at = pmap.columns["accounts.closed_at"]
    assert closed_at.table in keys.event_tables()
    account(1, created=NOW - timedelta(days=900), closed=NOW - timedelta(days=40))
    account(2, created=NOW - timedelta(days=900), closed=NOW - timedelta(days=29))
    account(3, created=NOW - timedelta(days=900))
    for pk, account_id in [(1, 1), (2, 1), (3, 2), (4, 3)]:
        pm.ApiKey.objects.create(
            pk=pk, account_id=account_id, name="ci", prefix="sk-abc", key_hash="0" * 64, created_at=NOW
        )
    rule = retention_rule_create(
        actor=officer,
        name="API keys: 30 days after the account closed",
        data_category=DataCategory.objects.get(slug="account-identity"),
        table=keys,
        trigger="subject_event",
        trigger_column=mapped_column_lookup(table=keys, column_name="accounts.closed_at"),
        period=30,
        period_unit="days",
        action="delete",
        justification="Kept 30 days after closure to investigate abuse.",
        legal_basis=LegalBasis.objects.get(slug="legitimate-interests"),
    )
    run = sweep(rule)
    assert (run.status, run.rows_affected, run.timestamp_column) == (RunStatus.SUCCEEDED, 2, "accounts.closed_at")
    assert ids(pm.ApiKey) == [3, 4]  # closed 29 days ago, and still open: kept


# ------------------------------------------------------------------------------
# Approval, cancellation, failures
# ------------------------------------------------------------------------------


@both
def test_a_run_over_the_threshold_waits_for_an_officers_approval(two_accounts_old_requests, rule_for, officer, auditor):
    rule = api_rule(rule_for, approval_threshold=5)
    mail.outbox.clear()
    run = sweep(rule)
    assert run.status == RunStatus.AWAITING_APPROVAL and run.rows_to_affect == 6
    assert ids(pm.ApiRequest) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(PermissionDenied):
        retention_run_approve(run_id=run.pk, actor=auditor)
    assert sweep(rule).pk == run.pk  # beat starting it again does not make a second run
    retention_run_approve(run_id=run.pk, actor=officer)
    run = retention_run_execute(run_id=run.pk)
    assert (run.status, run.rows_affected, run.approved_by) == (RunStatus.SUCCEEDED, 6, officer)
    assert ids(pm.ApiRequest) == []


@both
def test_a_run_under_the_threshold_goes_without_approval(two_accounts_old_requests, rule_for):
    run = sweep(api_rule(rule_for, approval_threshold=6))
    assert run.status == RunStatus.SUCCEEDED and run.approved_by is None


@both
def test_a_queued_run_is_enqueued_for_a_worker_once_the_start_commits(
    two_accounts_old_requests, rule_for, django_capture_on_commit_callbacks
):
    rule = api_rule(rule_for)
    with django_capture_on_commit_callbacks() as callbacks:
        run = retention_run_start(rule_id=rule.pk)
    assert run.status == RunStatus.QUEUED and len(callbacks) == 1
    # Through the outbox: the job is a row of the start's transaction, naming the task and the run's id only.
    job = PendingJob.objects.get()
    assert (job.task_name, job.args, job.sent_at) == ("retention.tasks.retention_run_execute_task", [run.pk], None)


@both
def test_approving_a_run_queues_its_sweep_through_the_outbox(two_accounts_old_requests, rule_for, officer):
    run = sweep(api_rule(rule_for, approval_threshold=5))
    assert run.status == RunStatus.AWAITING_APPROVAL
    alert = PendingJob.objects.get()  # the owner's alert, sent by a worker
    assert (alert.task_name, alert.args) == ("retention.tasks.retention_run_awaiting_approval_notify_task", [run.pk])
    retention_run_approve(run_id=run.pk, actor=officer)
    job = PendingJob.objects.exclude(pk=alert.pk).get()
    assert (job.task_name, job.args) == ("retention.tasks.retention_run_execute_task", [run.pk])


@both
def test_the_alert_that_a_run_awaits_approval_reaches_its_owner_through_the_outbox(
    two_accounts_old_requests, rule_for, officer, django_capture_on_commit_callbacks, eager_tasks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = sweep(api_rule(rule_for, approval_threshold=5))
    assert run.status == RunStatus.AWAITING_APPROVAL
    assert [m.to for m in mail.outbox] == [[officer.email]]
    assert f"Retention run #{run.pk} awaits approval" in mail.outbox[0].subject
    assert PendingJob.objects.get().sent_at is not None


@both
def test_cancelling_stops_before_the_next_batch(two_accounts_old_requests, rule_for, officer):
    rule = api_rule(rule_for, batch_size=2)
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    # A worker took the run and swept one batch, then died; the officer cancels before it resumes.
    RetentionRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, worker="gone", heartbeat_at=NOW - timedelta(hours=1)
    )
    retention_run_cancel(run_id=run.pk, actor=officer)
    run = retention_run_execute(run_id=run.pk)
    assert run.status == RunStatus.CANCELLED and run.batches == 0
    assert len(ids(pm.ApiRequest)) == 6


@both
def test_a_rule_whose_table_left_the_schema_fails_clearly_and_alerts_its_owner(
    pmap, rule_for, officer, django_capture_on_commit_callbacks, eager_tasks
):
    rule = rule_for()
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE visitor_events RENAME TO visitor_events_archived")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = sweep(rule)
    assert run.status == RunStatus.FAILED
    assert "Table 'visitor_events'" in run.error and "no longer exists" in run.error
    assert [m.to for m in mail.outbox] == [[officer.email]]
    assert "failed" in mail.outbox[0].subject and "visitor_events" in mail.outbox[0].body
    alert = PendingJob.objects.get(task_name="retention.tasks.retention_run_failed_notify_task")
    assert alert.args == [run.pk] and alert.sent_at is not None


@both
def test_a_disabled_rule_is_not_started_by_beat(pmap, rule_for):
    rule = rule_for(is_enabled=False)
    assert retention_run_start(rule_id=rule.pk, enqueue=False) is None
    assert not RetentionRun.objects.exists()


# ------------------------------------------------------------------------------
# The operator's command
# ------------------------------------------------------------------------------


@both
def test_run_retention_dry_run_prints_counts_and_changes_nothing(two_accounts_old_requests, rule_for, officer):
    rule = api_rule(rule_for)
    legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="1")
    out = StringIO()
    call_command("run_retention", "--dry-run", "--rule", str(rule.pk), stdout=out)
    assert "6 rows before 2025-12-15 00:00 GMT, 3 to affect, held (Litigation 2026-14: 3)" in out.getvalue()
    assert len(ids(pm.ApiRequest)) == 6


@both
def test_run_retention_sweeps_in_process_and_reports_the_evidence(two_accounts_old_requests, rule_for):
    rule = api_rule(rule_for)
    out = StringIO()
    call_command("run_retention", stdout=out)
    run = RetentionRun.objects.get(rule=rule)
    assert f"Done: 6 deleted, 0 skipped under holds, {run.batches} batches, evidence sha256 {run.evidence_sha256}" in (
        out.getvalue()
    )
    assert ids(pm.ApiRequest) == []


@both
def test_run_retention_fails_with_a_non_zero_exit_when_a_run_fails(pmap, rule_for):
    rule_for()
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE visitor_events RENAME TO visitor_events_gone")
    with pytest.raises(CommandError, match="1 run\\(s\\) failed"):
        call_command("run_retention", stdout=StringIO())


@both
def test_several_subject_holds_are_each_reported_and_a_row_under_two_is_kept_once(
    two_accounts_old_requests, rule_for, officer
):
    first = legal_hold_place(actor=officer, name="Case A", reason="litigation", subject_account_ref="1")
    second = legal_hold_place(actor=officer, name="Case B", reason="dispute", subject_email="person1@example.com")
    third = legal_hold_place(actor=officer, name="Case C", reason="dispute", subject_account_ref="2")
    run = sweep(api_rule(rule_for))
    assert {s.hold: s.rows for s in run.hold_skips.all()} == {first: 3, second: 3, third: 3}
    assert (run.rows_matched, run.rows_to_affect, run.rows_affected, run.rows_skipped_held) == (6, 0, 0, 6)
    assert run.status == RunStatus.SUCCEEDED and len(ids(pm.ApiRequest)) == 6


@both
def test_beat_starts_a_rule_through_its_task_and_the_run_is_queued_for_a_worker(
    two_accounts_old_requests, rule_for, django_capture_on_commit_callbacks
):
    from retention.tasks import retention_rule_start_task

    rule = api_rule(rule_for)
    with django_capture_on_commit_callbacks() as callbacks:
        retention_rule_start_task(rule.pk)
    run = RetentionRun.objects.get(rule=rule)
    assert (run.origin, run.status, run.rows_to_affect) == ("schedule", RunStatus.QUEUED, 6)
    assert len(callbacks) == 1


@both
def test_runs_whose_worker_died_are_queued_again_and_live_ones_are_left_alone(
    two_accounts_old_requests, rule_for, django_capture_on_commit_callbacks
):
    from retention.services import retention_runs_resume_stalled

    stalled = retention_run_start(rule_id=api_rule(rule_for).pk, enqueue=False)
    live = retention_run_start(rule_id=rule_for().pk, enqueue=False)
    RetentionRun.objects.filter(pk=stalled.pk).update(
        status=RunStatus.RUNNING, worker="dead", heartbeat_at=NOW - timedelta(minutes=10)
    )
    RetentionRun.objects.filter(pk=live.pk).update(status=RunStatus.RUNNING, worker="alive", heartbeat_at=NOW)
    with django_capture_on_commit_callbacks() as callbacks:
        assert retention_runs_resume_stalled() == [stalled.pk]
    assert len(callbacks) == 1


# -- Batch sizes: batches are sized to last about RETENTION_BATCH_TARGET_MS, within the rule's batch size ----------
# (compliance.connectors.BatchSizer: from 1,000 keys, at most doubling while quick, at most quartering when slow.)
ROWS = 3500


def _old_events() -> None:
    visitor_events([(pk, None, CUTOFF_90 - timedelta(days=1, seconds=pk)) for pk in range(1, ROWS + 1)])
    visitor_events([(ROWS + 1, None, NOW)])


def _keys_per_batch(run) -> list[tuple[str | None, str]]:
    return [(b.checkpoint_from, b.checkpoint_to) for b in run.batch_records.order_by("number")]


@both
@override_settings(RETENTION_BATCH_TARGET_MS=10_000)
def test_quick_batches_grow_from_a_thousand_keys_doubling_up_to_the_rules_batch_size(pmap, rule_for):
    _old_events()
    run = sweep(rule_for(batch_size=50_000, approval_threshold=100_000))
    assert run.status == RunStatus.SUCCEEDED
    # 1,000 keys, then 2,000 (each batch far quicker than 10 s), then the 501 left (a batch of 4,000 that ends).
    assert _keys_per_batch(run) == [(None, "1000"), ("1000", "3000"), ("3000", str(ROWS + 1))]
    assert [b.affected for b in run.batch_records.order_by("number")] == [1000, 2000, 500]
    batches = run.batch_records.order_by("number")
    assert [b.keys_sha256 for b in batches] == [
        digest(range(1, 1001)),
        digest(range(1001, 3001)),
        digest(range(3001, ROWS + 1)),
    ]
    assert ids(pm.VisitorEvent) == [ROWS + 1]


@both
@override_settings(RETENTION_BATCH_TARGET_MS=10_000)
def test_the_rules_batch_size_caps_the_growth(pmap, rule_for):
    _old_events()
    run = sweep(rule_for(batch_size=1500, approval_threshold=100_000))
    assert _keys_per_batch(run) == [(None, "1000"), ("1000", "2500"), ("2500", str(ROWS + 1))]
    assert run.rows_affected == ROWS and ids(pm.VisitorEvent) == [ROWS + 1]


@both
@override_settings(RETENTION_BATCH_TARGET_MS=0)
def test_without_a_target_every_batch_takes_the_rules_batch_size(pmap, rule_for):
    _old_events()
    run = sweep(rule_for(batch_size=2000, approval_threshold=100_000))
    assert _keys_per_batch(run) == [(None, "2000"), ("2000", str(ROWS + 1))]


def test_the_sizer_doubles_at_most_when_quick_and_quarters_at_most_when_slow():
    sizer = BatchSizer(ceiling=100_000, target_ms=100)
    assert sizer.size == 1000
    assert sizer.record(1.0) == 2000  # 100 times quicker than the target: doubled, not multiplied by 100
    assert sizer.record(50.0) == 4000  # half the target: doubled
    assert sizer.record(80.0) == 5000  # close to the target: proportional
    assert sizer.record(10_000.0) == 1250  # far too slow: a quarter, not a hundredth
    assert sizer.record(200.0) == 625  # twice the target: halved


def test_the_sizer_stays_between_its_floor_and_ceiling():
    sizer = BatchSizer(ceiling=3000, target_ms=100)
    for _ in range(5):
        sizer.record(0.5)
    assert sizer.size == 3000
    for _ in range(10):
        sizer.record(60_000.0)
    assert sizer.size == 100
    small = BatchSizer(ceiling=3, target_ms=100)  # a rule of three keys a batch: never more, never fewer
    assert small.size == 3 and small.record(0.1) == 3 and small.record(60_000.0) == 3
    fixed = BatchSizer(ceiling=5000, target_ms=None)
    assert fixed.size == 5000 and fixed.record(60_000.0) == 5000
