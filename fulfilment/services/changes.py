"""Steps that change data in the systems of record: erase a table, restrict, rectify.

DANGER: erasure steps delete and overwrite personal data in other systems.
What protects it:
- a step runs only for a plan a compliance officer approved (or that the
  ``ERASURE_APPROVAL_WAIVER`` setting waived), for an open, verified request;
- each step asks the connector to act on one table, with the action the stored
  plan names; tables kept by a retention rule or legal hold are "keep" steps
  that only count rows;
- the steps of one system run one at a time, in the plan's order (child tables
  before their parents), under a lock held by the running worker; a later step
  waits until every earlier one is done or waived;
- a step done is never run again; re-running an interrupted step is safe
  because the connector's erase finds nothing more to delete or mask.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from compliance.connectors import ConnectorError, ConnectorPending, ErasurePlan, Subject, TablePlan, get_connector
from compliance.connectors.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify,
)
from compliance.manual_tasks import manual_task_open, manual_task_title
from compliance.models import ManualTask, SystemOfRecord
from fulfilment.locks import exclusive
from fulfilment.models import FulfilmentPlan, FulfilmentStep, TableAction
from fulfilment.services.common import (
    identifier_hmac,
    logger,
    step_begin,
    step_fail,
    step_wait,
    steps_lease,
    subject_for,
)
from fulfilment.services.ledger import ledger_record
from fulfilment.services.plans import export_pending, plan_continue, plan_progress
from retention.scheduling import rule_keep_until


def _lock_name(step: FulfilmentStep) -> str:
    if step.kind == FulfilmentStep.Kind.ERASE:
        return f"fulfilment-chain-{step.plan_id}-{step.system_id}"
    return f"fulfilment-step-{step.pk}"


def change_step_run(*, step_id: int) -> None:
    """Run one erase, restrict or rectify step of an approved plan (the worker's entry point).

    The step's result and, when it was the plan's last, the plan's completion commit together; what runs
    next is queued once the chain's lock is let go, so the worker taking the next step finds it free.
    """
    first = FulfilmentStep.objects.select_related("plan", "request").get(pk=step_id)
    with exclusive(_lock_name(first)) as mine:
        if not mine:
            return
        plan = first.plan
        if plan is None or plan.status != FulfilmentPlan.Status.APPROVED:
            if plan is not None and plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL:
                logger.warning("fulfilment step %s refused: plan %s is not approved", step_id, plan.pk)
            return
        if not first.request.is_open or not first.request.identity_confirmed:
            logger.warning("fulfilment step %s refused: request %s is closed or unverified", step_id, first.request_id)
            return
        if first.kind == FulfilmentStep.Kind.ERASE:
            earlier = plan.steps.filter(system_id=first.system_id, position__lt=first.position).exclude(
                status__in=FulfilmentStep.FINISHED
            )
            if earlier.exists() or export_pending(first.request_id):
                # Children first: the chain's earlier step is queued (or failed) instead; and the request's
                # export bundle before any erasure. This job is spent: the step is queued again in its turn.
                FulfilmentStep.objects.filter(pk=step_id, status=FulfilmentStep.Status.PENDING).update(queued_at=None)
                return
        step = step_begin(step_id)
        if step is not None:
            try:
                with steps_lease([step.pk]):
                    if step.kind == FulfilmentStep.Kind.ERASE:
                        _erase(step, plan)
                    elif step.kind == FulfilmentStep.Kind.RESTRICT:
                        _restrict(step)
                    else:
                        _rectify(step, plan)
            except ConnectorPending as exc:
                step_wait(step, exc.reference, str(exc))
                return
            except Exception as exc:  # the step fails with a PII-free error; other systems go on
                step_fail(step, exc)
                return
    plan_continue(plan_id=plan.pk)


def _done(step: FulfilmentStep, *, complete_plan: bool = True, **fields: Any) -> None:
    """Record the step done and, when it was the plan's last, complete the plan, in one transaction."""
    with transaction.atomic():
        FulfilmentStep.objects.filter(pk=step.pk).update(
            status=FulfilmentStep.Status.DONE, finished_at=timezone.now(), error="", external_reference="", **fields
        )
        if complete_plan:
            plan_progress(plan_id=step.plan_id)


def _erase(step: FulfilmentStep, plan: FulfilmentPlan) -> None:
    subject = subject_for(step.request)
    spec = dict(step.evidence or {})
    if step.action == TableAction.KEEP and step.system.kind == SystemOfRecord.Kind.MANUAL:
        # Nothing to change: a person is not asked to open the system only to keep its rows.
        _keep_without_task(step, plan, subject, spec)
        return
    keep_newer: tuple[tuple[str, datetime], ...] = ()
    if step.action != TableAction.KEEP:
        keep_newer = tuple(
            (rule["column"], datetime.fromisoformat(rule["cutoff"])) for rule in spec.get("keep_rows", [])
        )
    outcomes = get_connector(step.system).erase(
        subject,
        ErasurePlan(
            tables=[TablePlan(table_id=step.table_id, action=step.action, reason=step.reason, keep_newer=keep_newer)]
        ),
    )
    outcome = next((o for o in outcomes if o.table_id == step.table_id), None)
    kept = outcome.kept if outcome else 0
    if kept and "restriction" in spec:
        spec["kept"] = _kept_record(step, spec, subject, kept, outcome.kept_latest if outcome else None)
    with transaction.atomic():
        current = FulfilmentStep.objects.select_for_update().get(pk=step.pk)
        _done(
            step,
            complete_plan=False,
            rows_deleted=current.rows_deleted + (outcome.deleted if outcome else 0),
            rows_masked=current.rows_masked + (outcome.masked if outcome else 0),
            rows_kept=kept,
            evidence=spec,
        )
        remaining = plan.steps.filter(system_id=step.system_id).exclude(status__in=FulfilmentStep.FINISHED)
        if not remaining.exists():
            ledger_record(plan=plan, system=step.system, subject=subject)
        plan_progress(plan_id=plan.pk)


def _keep_without_task(step: FulfilmentStep, plan: FulfilmentPlan, subject: Subject, spec: dict[str, Any]) -> None:
    kept = step.rows_located or 0
    if kept and "restriction" in spec:
        spec["kept"] = _kept_record(step, spec, subject, kept, None)
    with transaction.atomic():
        _done(step, complete_plan=False, rows_kept=kept, evidence=spec)
        remaining = plan.steps.filter(system_id=step.system_id).exclude(status__in=FulfilmentStep.FINISHED)
        if not remaining.exists():
            ledger_record(plan=plan, system=step.system, subject=subject)
        plan_progress(plan_id=plan.pk)


def _kept_record(
    step: FulfilmentStep, spec: dict[str, Any], subject: Subject, rows: int, latest: datetime | None
) -> dict[str, Any]:
    """Restrict the rows an erasure keeps under a legal obligation or hold (Art. 17(3)(b) with Art. 18) and
    say until when they are kept: what the line's outcome and the letter tell the requester."""
    table_name = step.table.table_name if step.table else "-"
    until, until_text = kept_until(spec, latest)
    restriction = dict(spec["restriction"])
    if restriction["how"] == "flag":
        counts = get_connector(step.system).restrict(subject, restricted=True, table_ids=[restriction["table_id"]])
        restriction["rows_flagged"] = sum(count.rows for count in counts)
        restriction["restricted"] = True
    else:
        task, _created = manual_task_open(
            system=step.system,
            operation=ManualTask.Operation.RESTRICT,
            key=identifier_hmac("fulfilment-task", f"{step.request_id}:{step.pk}:restrict-kept"),
            title=manual_task_title(
                operation=ManualTask.Operation.RESTRICT, system=step.system, reference=step.request.reference
            ),
            instructions=(
                f"An erasure keeps {rows} rows of table {table_name} of this person ({step.reason}). "
                "Mark them as restricted (Art. 18): keep them, do not use them for anything but the obligation "
                f"or hold that keeps them, {until_text}. The data map names no restriction flag for this table."
                "\n\n" + (step.system.manual_instructions or "")
            ),
            account_ref=subject.account_ref or "",
            email=subject.key_for("email") or "",
            tables=[],
        )
        restriction["task_id"] = task.pk
        restriction["restricted"] = task.status == ManualTask.Status.DONE
    return {"rows": rows, "until": until.isoformat() if until else None, "until_text": until_text, **restriction}


def kept_until(spec: dict[str, Any], latest: datetime | None) -> tuple[date | None, str]:
    """Until when kept rows stay: the end of the last hold, or of the rule's period for the newest kept row
    (``rule_keep_until``, the sweeps' cutoff read the other way). An open-ended hold has no date."""
    holds = spec.get("holds") or []
    if any(hold.get("ends_at") is None for hold in holds):
        return None, "until the legal hold keeping them is released"
    dates = [timezone.localtime(datetime.fromisoformat(hold["ends_at"])).date() for hold in holds]
    trigger = timezone.localtime(latest).date() if latest else timezone.localdate()
    for rule in spec.get("keep_rows") or []:
        dates.append(rule_keep_until(trigger=trigger, period=rule["period"], unit=rule["unit"], anchor=rule["anchor"]))
    if not dates:
        return None, "for as long as the obligation requires"
    until = max(dates)
    return until, f"until {date_format(until, 'j F Y')}"  # the letters' date format


def _manual(step: FulfilmentStep, operation: str, title: str, instructions: str) -> None:
    """A task for a person where the system cannot do the work itself; raises until it is done."""
    subject = subject_for(step.request)
    task, created = manual_task_open(
        system=step.system,
        operation=operation,
        key=identifier_hmac("fulfilment-task", f"{step.request_id}:{step.pk}:{operation}"),
        title=title,
        instructions=instructions,
        account_ref=subject.account_ref or "",
        email=subject.key_for("email") or "",
        tables=[],
    )
    if task.status == ManualTask.Status.CANCELLED:
        raise ConnectorError(f"Manual task {task.pk} ({step.system.slug}) was cancelled; reopen it or waive the step.")
    if task.status != ManualTask.Status.DONE:
        raise ConnectorPending(
            f"Manual task {task.pk} ({step.system.slug}) is {'opened' if created else 'still open'}; "
            "the step completes when it is marked done in the admin.",
            reference=f"manual task {task.pk}",
        )


def _restrict(step: FulfilmentStep) -> None:
    system = step.system
    flagged = system.tables.exclude(restriction_flag_column="").exists()
    if system.kind == SystemOfRecord.Kind.SQL and not flagged:
        _manual(
            step,
            ManualTask.Operation.RESTRICT,
            manual_task_title(operation=ManualTask.Operation.RESTRICT, system=system, reference=step.request.reference),
            "Mark this person's records in this system as restricted (Art. 18): keep them, stop using them, "
            "until the restriction is lifted. The data map names no restriction flag for this system.\n\n"
            + (system.manual_instructions or ""),
        )
        _done(step, evidence={"restricted_by": "manual task"})
        return
    counts = get_connector(system).restrict(subject_for(step.request), restricted=True)
    _done(step, evidence={"restricted": {count.table_name: count.rows for count in counts}})


def _rectify(step: FulfilmentStep, plan: FulfilmentPlan) -> None:
    system = step.system
    if system.kind == SystemOfRecord.Kind.WEBHOOK:
        job = _rectify_webhook(step, plan.requested_change)
        _done(step, evidence={"webhook": job})
        return
    _manual(
        step,
        ManualTask.Operation.RECTIFY,
        manual_task_title(operation=ManualTask.Operation.RECTIFY, system=system, reference=step.request.reference),
        "Correct this person's records in this system as follows (Art. 16), then mark the task done:\n\n"
        f"{plan.requested_change}\n\n" + (system.manual_instructions or ""),
    )
    _done(step, evidence={"rectified_by": "manual task"})


def _rectify_webhook(step: FulfilmentStep, change: str) -> str:
    """Ask a webhook system to make the change (signed like every connector call). Raises while pending."""
    system = step.system
    secret = settings.WEBHOOK_SECRETS.get(system.webhook_secret_setting)
    if not secret:
        raise ConnectorError(f"The webhook secret of system {system.slug!r} is not configured.")
    subject = subject_for(step.request)
    key = identifier_hmac("fulfilment-rectify", f"{step.request_id}:{step.pk}")
    body = json.dumps(
        {
            "operation": "rectify",
            "system": system.slug,
            "idempotency_key": key,
            "subject": {"account_ref": subject.account_ref, "email": subject.key_for("email")},
            "change": change,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    timestamp = int(time.time())
    where = f"{system.slug} webhook (rectify)"
    try:
        response = requests.post(
            system.webhook_url,
            data=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
                IDEMPOTENCY_HEADER: key,
            },
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ConnectorError(f"{where}: cannot reach the system ({type(exc).__name__}).") from None
    if response.status_code not in (200, 202):
        raise ConnectorError(f"{where}: the system refused the request (HTTP {response.status_code}).")
    verify(
        secret,
        timestamp=response.headers.get(TIMESTAMP_HEADER),
        signature=response.headers.get(SIGNATURE_HEADER),
        body=response.content,
    )
    try:
        result = json.loads(response.content)
    except ValueError:
        raise ConnectorError(f"{where}: the answer is not JSON.") from None
    job = str((result or {}).get("job") or "")[:64] if isinstance(result, dict) else ""
    if response.status_code == 202 or (isinstance(result, dict) and result.get("status") == "accepted"):
        raise ConnectorPending(f"{where}: the system accepted job {job or 'unnamed'}.", reference=f"webhook job {job}")
    if not isinstance(result, dict) or result.get("status") != "done":
        raise ConnectorError(f"{where}: the answer has no 'done' status.")
    return job or "done"
