"""Starting fulfilment: locate the subject everywhere, plan each line, approve, retry, waive, complete.

A request's fulfilment moves through:

1. ``fulfilment_start``: one locate step per active system of record;
2. ``locate_step_run`` (a worker): counts per table (``LocatedTable``); the
   last one to finish calls ``plans_build``;
3. ``plans_build``: one ``FulfilmentPlan`` per line the workers can carry out
   (access and portability share one export bundle); exports and restrictions
   start at once, erasure and rectification wait for a compliance officer's
   ``plan_approve`` (or a waiver by setting, for small erasure plans);
4. the steps of each plan run (``exports``, ``erasure``, ``changes``); when
   every step of a plan is done or waived, ``plan_progress`` completes the
   line through the rights-request service, with what was kept and why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from compliance.connectors import ConnectorPending, get_connector
from compliance.history import set_history_actor
from compliance.models import ColumnTreatment, ManualTask, MappedTable, SystemOfRecord
from fulfilment.locks import exclusive
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep, LocatedTable, PlanKind, TableAction
from fulfilment.services.common import (
    APPROVE_PERMISSION,
    RIGHT_PLAN_KIND,
    START_PERMISSION,
    STEP_PERMISSION,
    lease_lapsed_before,
    locate_evidence,
    logger,
    step_begin,
    step_fail,
    step_wait,
    steps_lease,
    subject_for,
    subject_of,
)
from jobs.services import job_enqueue
from requests_app.models import Outcome, RefusalGround, RequestLine, RightsRequest
from requests_app.selectors import request_identifiers
from security.models import AccessEvent
from security.services import access_event_record

CHANGE_KINDS = {PlanKind.ERASURE, PlanKind.RECTIFICATION, PlanKind.RESTRICTION}
BACK_OFFICE_ALIAS = "default"
BACK_OFFICE_KEEP_REASON = (
    "Records of how rights requests were handled are kept as evidence under the retention schedule"
)
# Tables an erasure leaves alone without keeping anything of the subject's: they neither make the line
# partially fulfilled nor appear in the letter as kept data.
NOTHING_PERSONAL_REASON = (
    "Holds nothing personal (every column is marked not personal): it only joins the subject's other rows"
)
VIEW_REASON = "A view: its rows are erased in the tables it reads from, never through the view"
NOT_KEPT_REASONS = (NOTHING_PERSONAL_REASON, VIEW_REASON)


def _require(actor: User | None, permission: str, message: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(message)


def _refuse(request: RightsRequest, code: str, message: str) -> None:
    logger.info("fulfilment refused for request %s: %s", request.pk, code)
    raise ValidationError(message)


def _lock_request(request_id: int) -> RightsRequest:
    return RightsRequest.objects.select_for_update(of=("self",)).select_related("regime").get(pk=request_id)


def _open_lines(request: RightsRequest) -> list[RequestLine]:
    return [
        line
        for line in request.lines.select_related("right").order_by("right__display_order")
        if line.right.slug in RIGHT_PLAN_KIND and line.status != RequestLine.Status.COMPLETED
    ]


def fulfilment_check(request: RightsRequest) -> None:
    """Raise the ``ValidationError`` starting fulfilment of ``request`` would raise, writing nothing."""
    if not request.identity_confirmed:
        _refuse(request, "unverified", "The requester's identity is not verified: record it before fulfilment.")
    if not request.is_open:
        _refuse(request, "not_open", "The request has already been answered or closed.")
    if not _open_lines(request):
        _refuse(request, "fulfilled", "Every line the workers can carry out is already completed.")
    if request.fulfilment_steps.filter(kind=FulfilmentStep.Kind.LOCATE).exists():
        _refuse(request, "started", "Fulfilment has already started for this request.")


def fulfilment_start(*, request: RightsRequest, actor: User | None) -> list[FulfilmentStep]:
    """Locate the request's subject in every active system of record: fulfilment's first step.

    Refused (nothing changes) for an unverified, answered or closed request, one
    whose lines are all completed, or one already started.
    """
    _require(actor, START_PERMISSION, "Only compliance officers can start fulfilment.")
    with transaction.atomic():
        request = _lock_request(request.pk)
        fulfilment_check(request)
        systems = list(SystemOfRecord.objects.filter(is_active=True, tables__isnull=False).distinct().order_by("name"))
        if not systems:
            _refuse(request, "no_systems", "The data map has no active system of record to search.")
        steps = [
            FulfilmentStep.objects.create(
                request=request,
                system=system,
                kind=FulfilmentStep.Kind.LOCATE,
                key=FulfilmentStep.make_key("locate", system_id=system.pk),
            )
            for system in systems
        ]
        for step in steps:
            step_enqueue(step)
    logger.info("fulfilment started for request %s: %d systems", request.pk, len(steps))
    return steps


def locate_step_run(*, step_id: int) -> None:
    """Count the subject's rows per table in one system, then plan the lines once every system answered."""
    with exclusive(f"fulfilment-step-{step_id}") as mine:
        if not mine:
            return
        step = step_begin(step_id)
        if step is None:
            request_id = FulfilmentStep.objects.values_list("request_id", flat=True).get(pk=step_id)
            plans_build(request_id=request_id)
            return
        try:
            identifiers = request_identifiers(step.request)
            with steps_lease([step.pk]):
                counts = get_connector(step.system).locate(subject_of(identifiers, reference=step.request.reference))
        except ConnectorPending as exc:
            step_wait(step, exc.reference, str(exc))
            return
        except Exception as exc:  # a failed system must not stop the others: recorded, retried from the admin
            step_fail(step, exc)
            return
        now = timezone.now()
        with transaction.atomic():
            for count in counts:
                LocatedTable.objects.update_or_create(
                    request_id=step.request_id,
                    table_id=count.table_id,
                    defaults={"system": step.system, "rows": count.rows, "located_at": now},
                )
            FulfilmentStep.objects.filter(pk=step.pk).update(
                status=FulfilmentStep.Status.DONE,
                rows_located=sum(count.rows for count in counts),
                evidence=locate_evidence(identifiers),
                finished_at=now,
                error="",
                external_reference="",
            )
            plans_build(request_id=step.request_id)  # the last locate plans the lines in its own transaction


# ------------------------------------------------------------------------------
# Plans
# ------------------------------------------------------------------------------


def _depth(table: MappedTable, tables: dict[int, MappedTable]) -> int:
    depth, step = 1, table
    while step.parent_id is not None and step.parent_id in tables and depth < 50:
        step = tables[step.parent_id]
        depth += 1
    return depth


def child_first(tables: list[MappedTable]) -> list[MappedTable]:
    """Children before parents; the account table (which resolves the subject's other key) last of its depth."""
    by_id = {table.pk: table for table in MappedTable.objects.filter(system__in={t.system_id for t in tables})}
    return sorted(
        tables,
        key=lambda t: (-_depth(t, by_id), bool(t.account_email_column), t.table_name),
    )


def _erasure_action(table: MappedTable) -> tuple[str, str]:
    if _is_view(table):
        return TableAction.KEEP, VIEW_REASON
    columns = list(table.columns.all())
    treatments = {column.treatment for column in columns}
    if ColumnTreatment.DELETE_ROW in treatments:
        return TableAction.DELETE, ""
    if treatments - {ColumnTreatment.KEEP}:
        return TableAction.MASK, ""
    if columns and all(column.not_personal for column in columns):
        return TableAction.KEEP, NOTHING_PERSONAL_REASON
    return TableAction.KEEP, "The data map keeps every column of this table"


def _is_view(table: MappedTable) -> bool:
    """The table is a view of its SQL system (read-only there); unknown when the database cannot be read,
    and the connector then refuses to write through it itself."""
    if table.system.kind != SystemOfRecord.Kind.SQL:
        return False
    from compliance.connectors.base import ConnectorError
    from compliance.connectors.introspection import schema_reader

    try:
        return schema_reader(table.system.database_alias).is_view(table.table_name)
    except ConnectorError:
        return False


def _entry(located: LocatedTable, action: str, reason: str = "") -> dict[str, Any]:
    return {
        "system_id": located.system_id,
        "system": located.system.slug,
        "table_id": located.table_id,
        "table": located.table.table_name,
        "rows": located.rows,
        "action": action,
        "reason": reason,
    }


def _ordered(located: list[LocatedTable]) -> list[LocatedTable]:
    by_table = {item.table_id: item for item in located}
    ordered: list[LocatedTable] = []
    for system in sorted({item.system for item in located}, key=lambda s: s.name):
        tables = [item.table for item in located if item.system_id == system.pk]
        ordered.extend(by_table[table.pk] for table in child_first(tables))
    return ordered


def _restriction(table: MappedTable) -> dict[str, Any]:
    """How rows of ``table`` kept under a legal obligation or hold are restricted (Art. 17(3)(b) with Art. 18)."""
    flagged = table.restriction_table() if table.system.kind == SystemOfRecord.Kind.SQL else None
    if flagged is not None:
        return {
            "how": "flag",
            "table_id": flagged.pk,
            "table": flagged.table_name,
            "column": flagged.restriction_flag_column,
        }
    return {
        "how": "manual",
        "note": "The data map names no restriction flag for this table: a manual task asks a person to restrict "
        "the kept rows.",
    }


def _erasure_tables(request: RightsRequest, located: list[LocatedTable]) -> list[dict[str, Any]]:
    """Per table: delete, mask or keep. A legal hold keeps the subject's rows of a table; a legal-obligation
    rule keeps only the rows inside its period (``keep_rows``), and the rest are erased with the other
    tables. Kept rows are restricted: by the table's flag, or its account's, or by a person (``restriction``)."""
    from retention.selectors import erasure_exemptions

    exemptions = erasure_exemptions(subject=subject_for(request), tables=[item.table for item in located])
    entries = []
    for item in located:
        exemption = exemptions.get(item.table_id)
        if item.system.database_alias == BACK_OFFICE_ALIAS and item.system.kind == SystemOfRecord.Kind.SQL:
            entries.append(_entry(item, TableAction.KEEP, BACK_OFFICE_KEEP_REASON))
            continue
        if exemption is None:
            entries.append(_entry(item, *_erasure_action(item.table)))
            continue
        action, map_reason = _erasure_action(item.table)
        partial = (
            not exemption.whole_table and action != TableAction.KEEP and item.system.kind == SystemOfRecord.Kind.SQL
        )
        entry = _entry(item, action if partial else TableAction.KEEP, exemption.reason)
        entry["keep_rows"] = [rule.as_dict() for rule in exemption.rules]
        entry["holds"] = exemption.holds_data()
        entry["restriction"] = _restriction(item.table)
        entries.append(entry)
    return entries


def _system_entries(located: list[LocatedTable], action: str) -> list[dict[str, Any]]:
    entries = []
    for system in sorted({item.system for item in located}, key=lambda s: s.name):
        if system.database_alias == BACK_OFFICE_ALIAS and system.kind == SystemOfRecord.Kind.SQL:
            continue
        rows = sum(item.rows for item in located if item.system_id == system.pk)
        entries.append(
            {
                "system_id": system.pk,
                "system": system.slug,
                "table_id": None,
                "table": "",
                "rows": rows,
                "action": action,
                "reason": "",
            }
        )
    return entries


def _approval_waiver(request: RightsRequest, rows_affected: int) -> str:
    limit = settings.ERASURE_APPROVAL_WAIVER.get(request.regime.code)
    if limit is None or rows_affected > limit:
        return ""
    return (
        f"No approval needed: ERASURE_APPROVAL_WAIVER allows {request.regime.code} erasure plans of up to "
        f"{limit} rows, and this one changes {rows_affected}."
    )


def plans_build(*, request_id: int) -> list[FulfilmentPlan]:
    """Plan every line once each system has answered its locate step. Idempotent.

    Lines already planned (or completed) are left alone. Exports and
    restrictions start at once; erasure and rectification wait for approval.
    """
    created: list[FulfilmentPlan] = []
    with transaction.atomic():
        request = _lock_request(request_id)
        locates = list(request.fulfilment_steps.filter(kind=FulfilmentStep.Kind.LOCATE))
        if not locates or any(not step.is_finished for step in locates):
            return []
        if not request.is_open:
            logger.info("fulfilment: request %s is no longer open; nothing planned", request.pk)
            return []
        located = _ordered(
            list(
                LocatedTable.objects.filter(request=request, rows__gt=0)
                .select_related("system", "table")
                .prefetch_related("table__columns")
            )
        )
        planned = set(FulfilmentPlan.objects.filter(request=request).values_list("line_id", flat=True))
        now = timezone.now()
        for line in _open_lines(request):
            if line.pk in planned:
                continue
            kind = RIGHT_PLAN_KIND[line.right.slug]
            plan = FulfilmentPlan(request=request, line=line, kind=kind)
            if kind == PlanKind.EXPORT:
                plan.tables = [_entry(item, TableAction.EXPORT) for item in located]
                plan.status = FulfilmentPlan.Status.APPROVED
                plan.approval_waiver = "No approval needed: an export changes no data."
            elif kind == PlanKind.ERASURE:
                plan.tables = _erasure_tables(request, located)
                plan.rows_affected = sum(
                    e["rows"] for e in plan.tables if e["action"] in {TableAction.DELETE, TableAction.MASK}
                )
                plan.approval_waiver = _approval_waiver(request, plan.rows_affected)
                plan.status = (
                    FulfilmentPlan.Status.APPROVED if plan.approval_waiver else FulfilmentPlan.Status.AWAITING_APPROVAL
                )
            elif kind == PlanKind.RESTRICTION:
                plan.tables = _system_entries(located, TableAction.RESTRICT)
                plan.rows_affected = sum(e["rows"] for e in plan.tables)
                plan.status = FulfilmentPlan.Status.APPROVED
                plan.approval_waiver = "No approval needed: a restriction keeps the data and stops its use."
            else:
                plan.tables = _system_entries(located, TableAction.RECTIFY)
                plan.requested_change = request.description
                plan.status = FulfilmentPlan.Status.AWAITING_APPROVAL
            if plan.status == FulfilmentPlan.Status.APPROVED and not plan.approval_waiver:
                plan.approved_at = now
            plan.save()
            created.append(plan)
            if plan.status == FulfilmentPlan.Status.APPROVED:
                steps_create(plan=plan)
        if created:
            logger.info("fulfilment: %d plans built for request %s", len(created), request.pk)
    return created


def plan_approve(
    *, plan: FulfilmentPlan, actor: User | None, http_request: HttpRequest | None = None
) -> FulfilmentPlan:
    """A compliance officer approves an erasure or rectification plan; its steps start on commit.

    Refused when the plan is not awaiting approval, or the request is closed or unverified.
    """
    _require(actor, APPROVE_PERMISSION, "Only compliance officers can approve a plan.")
    with transaction.atomic():
        request = _lock_request(plan.request_id)
        plan = FulfilmentPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != FulfilmentPlan.Status.AWAITING_APPROVAL:
            _refuse(
                request, "not_awaiting", f"This plan is {plan.get_status_display().lower()}, not awaiting approval."
            )
        if not request.is_open:
            _refuse(request, "not_open", "The request has already been answered or closed.")
        if not request.identity_confirmed:
            _refuse(request, "unverified", "The requester's identity is not verified.")
        plan.status = FulfilmentPlan.Status.APPROVED
        plan.approved_by = actor
        plan.approved_at = timezone.now()
        set_history_actor(plan, actor)
        plan.save()
        steps_create(plan=plan)
        access_event_record(actor=actor, action=AccessEvent.Action.APPROVED_PLAN, obj=plan, request=http_request)
    logger.info("fulfilment plan %s approved", plan.pk)
    return plan


def plan_update_change(*, plan: FulfilmentPlan, requested_change: str, actor: User | None) -> FulfilmentPlan:
    """Correct the requested change of a rectification plan before it is approved."""
    _require(actor, APPROVE_PERMISSION, "Only compliance officers can change a plan.")
    with transaction.atomic():
        plan = FulfilmentPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.kind != PlanKind.RECTIFICATION or plan.status != FulfilmentPlan.Status.AWAITING_APPROVAL:
            raise ValidationError("Only a rectification plan awaiting approval can have its change edited.")
        if not requested_change.strip():
            raise ValidationError({"requested_change": "Say what must be changed."})
        plan.requested_change = requested_change.strip()
        set_history_actor(plan, actor)
        plan.save(update_fields=["requested_change"])
    return plan


def bundle_for(request: RightsRequest, actor: User | None = None) -> ExportBundle:
    bundle = ExportBundle.objects.filter(request=request).exclude(status=ExportBundle.Status.PURGED).first()
    return bundle or ExportBundle.objects.create(request=request, created_by=actor)


def steps_create(*, plan: FulfilmentPlan) -> list[FulfilmentStep]:
    """The steps of an approved plan (existing ones are kept), queued on commit."""
    steps = []
    if plan.kind == PlanKind.EXPORT:
        bundle = bundle_for(plan.request)
        for position, entry in enumerate(plan.tables):
            step, _ = FulfilmentStep.objects.get_or_create(
                request=plan.request,
                key=FulfilmentStep.make_key(
                    "export", scope=f"b{bundle.pk}", system_id=entry["system_id"], table_id=entry["table_id"]
                ),
                defaults={
                    "bundle": bundle,
                    "system_id": entry["system_id"],
                    "table_id": entry["table_id"],
                    "kind": FulfilmentStep.Kind.EXPORT,
                    "action": TableAction.EXPORT,
                    "position": position,
                    "rows_located": entry["rows"],
                },
            )
            steps.append(step)
        transaction.on_commit(lambda: bundle_progress(bundle_id=bundle.pk))
    else:
        kinds: dict[str, str] = {
            PlanKind.ERASURE: FulfilmentStep.Kind.ERASE,
            PlanKind.RESTRICTION: FulfilmentStep.Kind.RESTRICT,
            PlanKind.RECTIFICATION: FulfilmentStep.Kind.RECTIFY,
        }
        kind = kinds[plan.kind]
        for position, entry in enumerate(plan.tables):
            step, _ = FulfilmentStep.objects.get_or_create(
                request=plan.request,
                key=FulfilmentStep.make_key(
                    kind, scope=f"l{plan.line_id}", system_id=entry["system_id"], table_id=entry["table_id"]
                ),
                defaults={
                    "plan": plan,
                    "system_id": entry["system_id"],
                    "table_id": entry["table_id"],
                    "kind": kind,
                    "action": entry["action"],
                    "reason": entry["reason"][:500],
                    "position": position,
                    "rows_located": entry["rows"],
                    # What the erasure keeps and how it restricts it, read back when the step runs.
                    "evidence": {key: entry[key] for key in ("keep_rows", "holds", "restriction") if key in entry},
                },
            )
            steps.append(step)
        plan_id = plan.pk
        transaction.on_commit(lambda: plan_continue(plan_id=plan_id))
    return steps


# ------------------------------------------------------------------------------
# Queueing and progress
# ------------------------------------------------------------------------------


def _lost_before() -> datetime:
    """Marks older than this are jobs lost on the way (a broker restart, a worker killed before it began)."""
    return timezone.now() - timedelta(seconds=settings.FULFILMENT_LEASE_SECONDS)


def _not_queued(queryset: QuerySet[FulfilmentStep]) -> QuerySet[FulfilmentStep]:
    return queryset.filter(Q(queued_at__isnull=True) | Q(queued_at__lt=_lost_before()))


def step_enqueue(step: FulfilmentStep) -> bool:
    """Queue the task that runs ``step`` through the outbox (sent after the current transaction commits).

    A step is queued once while its job is outstanding: the step is marked queued in the same
    transaction (a conditional update, so two callers cannot both queue it) and the mark is cleared
    when a worker starts the step. An export step's job exports every unfinished table of its system,
    so it is queued when any of them is not. Returns whether a job was queued.
    """
    now = timezone.now()
    if step.kind == FulfilmentStep.Kind.EXPORT:
        marked = _not_queued(
            FulfilmentStep.objects.filter(bundle_id=step.bundle_id, system_id=step.system_id).exclude(
                status__in=FulfilmentStep.FINISHED
            )
        ).update(queued_at=now)
        if not marked:
            return False
        FulfilmentStep.objects.filter(bundle_id=step.bundle_id, system_id=step.system_id).exclude(
            status__in=FulfilmentStep.FINISHED
        ).update(queued_at=now)
        job_enqueue("fulfilment.tasks.export_system_task", step.bundle_id, step.system_id)
        return True
    if not _not_queued(FulfilmentStep.objects.filter(pk=step.pk)).update(queued_at=now):
        return False
    if step.kind == FulfilmentStep.Kind.LOCATE:
        job_enqueue("fulfilment.tasks.locate_step_task", step.pk)
    else:
        job_enqueue("fulfilment.tasks.change_step_task", step.pk)
    return True


def export_pending(request_id: int) -> bool:
    """Whether the request's export bundle is still being built: its erasure waits, so that the requester
    who asked for both gets every row that was located (Art. 15 before Art. 17)."""
    return ExportBundle.objects.filter(request_id=request_id, status=ExportBundle.Status.BUILDING).exists()


def plan_continue(*, plan_id: int) -> None:
    """Queue what can run next: per system, the first unfinished step of an erasure chain; every other step.

    Erasure steps of one system run one after the other (children before
    parents); systems run side by side; none starts while the request's export
    bundle is being built. Only pending steps are queued, each
    once while its job is outstanding (``step_enqueue``): a running step's
    worker holds it, a waiting one is polled, a failed one waits for staff.
    Completes the plan when nothing is left.
    """
    plan = FulfilmentPlan.objects.get(pk=plan_id)
    if plan.status != FulfilmentPlan.Status.APPROVED:
        return
    if plan.kind == PlanKind.ERASURE and export_pending(plan.request_id):
        return  # the bundle's assembly continues the erasure once the data is in it
    steps = list(plan.steps.order_by("system_id", "position", "id"))
    queued_systems = set()
    with transaction.atomic():
        for step in steps:
            if step.is_finished:
                continue
            if plan.kind == PlanKind.ERASURE:
                if step.system_id in queued_systems:
                    continue
                queued_systems.add(step.system_id)  # a failed, waiting or running table holds back its parents
            if step.status == FulfilmentStep.Status.PENDING:
                step_enqueue(step)
        plan_progress(plan_id=plan_id)


def bundle_progress(*, bundle_id: int) -> None:
    """Queue the exports still to do (once per system while its job is outstanding), or the assembly
    once every export step is finished (once while its job is outstanding)."""
    bundle = ExportBundle.objects.get(pk=bundle_id)
    if bundle.status != ExportBundle.Status.BUILDING:
        return
    steps = list(bundle.steps.all())
    with transaction.atomic():
        if all(step.is_finished for step in steps):
            marked = (
                ExportBundle.objects.filter(pk=bundle_id, status=ExportBundle.Status.BUILDING)
                .filter(Q(assembly_queued_at__isnull=True) | Q(assembly_queued_at__lt=_lost_before()))
                .update(assembly_queued_at=timezone.now())
            )
            if marked:
                job_enqueue("fulfilment.tasks.bundle_assemble_task", bundle_id)
            return
        first_per_system: dict[int, FulfilmentStep] = {}
        for step in sorted(steps, key=lambda s: s.pk):
            if step.status == FulfilmentStep.Status.PENDING:
                first_per_system.setdefault(step.system_id, step)
        for system_id in sorted(first_per_system):
            step_enqueue(first_per_system[system_id])


def _kept_reason(steps: list[FulfilmentStep]) -> tuple[list[FulfilmentStep], bool]:
    """What the erasure kept that falls short of the request: the back office's own record of handling
    the request is accountability, not data kept from the subject, so it does not make the line partial
    (the letter still lists it). A table a rule keeps in part (rows inside its period) counts too."""
    kept, statutory = [], False
    for step in steps:
        if step.reason == BACK_OFFICE_KEEP_REASON:
            continue
        if step.reason in NOT_KEPT_REASONS:
            continue
        if step.status == FulfilmentStep.Status.DONE and step.rows_kept and step.reason:
            kept.append(step)
            statutory = statutory or step.reason.startswith(("Retention rule", "Legal hold"))
    return kept, statutory


def _line_outcome(plan: FulfilmentPlan, steps: list[FulfilmentStep]) -> tuple[str, str, str]:
    """The line's outcome and its reason, written for the requester who reads it in the answer letter:
    the categories of their data and what was done with them, never tables or row counts."""
    from fulfilment.wording import join_words, your_data

    waived = [step for step in steps if step.status == FulfilmentStep.Status.WAIVED]
    kept, statutory = _kept_reason(steps) if plan.kind == PlanKind.ERASURE else ([], False)
    done = [step for step in steps if step.status == FulfilmentStep.Status.DONE]
    if plan.kind == PlanKind.EXPORT:
        located = LocatedTable.objects.filter(request_id=plan.request_id, rows__gt=0).values_list("table_id", flat=True)
        summary = f"We prepared a copy of {your_data(located)}, ready for you to download."
    elif plan.kind == PlanKind.ERASURE:
        changed = [s.table_id for s in done if s.action in {TableAction.DELETE, TableAction.MASK}]
        summary = (
            f"We erased {your_data(changed)} from our systems."
            if changed
            else "We found nothing of yours that we could erase."
        )
    elif plan.kind == PlanKind.RESTRICTION:
        summary = (
            "We stopped using your data: we keep it, and use it again only if you ask us to lift the "
            "restriction or the law allows it."
        )
    else:
        summary = "We corrected your data as you asked, wherever we hold it."
    if not waived and not kept:
        return Outcome.FULFILLED, summary, ""
    parts = [summary]
    if kept:
        from fulfilment.selectors import kept_whys

        whys = join_words(kept_whys(plan.request, kept))
        parts.append(f"We kept {your_data([s.table_id for s in kept])} because {whys}.")
    if waived:
        names = join_words(sorted({s.system.name for s in waived}))
        reasons = "; ".join(sorted({s.waived_reason.strip().rstrip(".") for s in waived if s.waived_reason.strip()}))
        parts.append(f"We could not complete this in {names}" + (f": {reasons}." if reasons else "."))
    ground = RefusalGround.LEGAL_OBLIGATION if statutory else RefusalGround.OTHER_EXEMPTION
    return Outcome.PARTIALLY_FULFILLED, " ".join(parts)[:4000], ground


def plan_progress(*, plan_id: int) -> bool:
    """Complete the plan, and its line, when every step is done or waived. Returns whether it completed now."""
    from requests_app.services import request_line_complete

    with transaction.atomic():
        plan = FulfilmentPlan.objects.select_for_update(of=("self",)).select_related("line", "request").get(pk=plan_id)
        if plan.status != FulfilmentPlan.Status.APPROVED:
            return False
        if plan.kind == PlanKind.EXPORT:
            bundle = ExportBundle.objects.filter(request=plan.request, status=ExportBundle.Status.READY).first()
            if bundle is None:
                return False
            steps = list(bundle.steps.select_related("system", "table"))
        else:
            steps = list(plan.steps.select_related("system", "table"))
            if any(not step.is_finished for step in steps):
                return False
        plan.status = FulfilmentPlan.Status.COMPLETED
        plan.completed_at = timezone.now()
        plan.save(update_fields=["status", "completed_at"])
        outcome, reason, ground = _line_outcome(plan, steps)
        try:
            with transaction.atomic():
                request_line_complete(line=plan.line, outcome=outcome, reason=reason, refusal_ground=ground, actor=None)
        except ValidationError as error:
            # The line stays open for staff to complete by hand (e.g. the request was closed meanwhile).
            logger.warning("fulfilment plan %s completed but its line was not: %s", plan.pk, type(error).__name__)
        if plan.kind in CHANGE_KINDS:
            _notify_when_changes_done(plan.request_id)  # the notices (and their jobs) commit with the completion
    logger.info("fulfilment plan %s completed", plan_id)
    return True


def _notify_when_changes_done(request_id: int) -> None:
    from fulfilment.services.notices import notices_create

    plans = FulfilmentPlan.objects.filter(request_id=request_id, kind__in=CHANGE_KINDS)
    if plans.exists() and not plans.exclude(status=FulfilmentPlan.Status.COMPLETED).exists():
        notices_create(request_id=request_id)


# ------------------------------------------------------------------------------
# Staff: retry and waive
# ------------------------------------------------------------------------------


def step_lease_lapsed(step: FulfilmentStep) -> bool:
    """Whether a running step's worker stopped renewing its lease (it is gone)."""
    if step.status != FulfilmentStep.Status.RUNNING:
        return False
    renewed = step.heartbeat_at or step.started_at
    return renewed is None or renewed < lease_lapsed_before()


def step_retry(*, step: FulfilmentStep, actor: User | None) -> FulfilmentStep:
    """Run a failed or waiting step again, or a running one whose worker's lease lapsed (the worker is gone)."""
    _require(actor, STEP_PERMISSION, "You cannot retry fulfilment steps.")
    with transaction.atomic():
        step = FulfilmentStep.objects.select_for_update().get(pk=step.pk)
        if step.status == FulfilmentStep.Status.RUNNING and not step_lease_lapsed(step):
            raise ValidationError(
                "This step is running and its worker renewed its lease less than "
                f"{settings.FULFILMENT_LEASE_SECONDS} seconds ago; it can be retried once the lease lapses."
            )
        retryable = {FulfilmentStep.Status.FAILED, FulfilmentStep.Status.WAITING, FulfilmentStep.Status.RUNNING}
        if step.status not in retryable:
            raise ValidationError(
                "Only a failed or waiting step, or a running one whose worker is gone, can be retried; "
                f"this one is {step.get_status_display().lower()}."
            )
        if step.plan_id and step.plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL:
            raise ValidationError("The plan is not approved yet.")
        step.status = FulfilmentStep.Status.PENDING
        step.error = ""
        step.queued_at = None
        set_history_actor(step, actor)
        step.save(update_fields=["status", "error", "queued_at"])
        _after_staff_change(step)
    return step


def step_waive(*, step: FulfilmentStep, reason: str, actor: User | None) -> FulfilmentStep:
    """Accept that a step will not be done, with the reason (it then counts as finished)."""
    _require(actor, APPROVE_PERMISSION, "Only compliance officers can waive a step.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the step is waived."})
    with transaction.atomic():
        step = FulfilmentStep.objects.select_for_update().get(pk=step.pk)
        if step.is_finished:
            raise ValidationError(f"This step is already {step.get_status_display().lower()}.")
        if step.status == FulfilmentStep.Status.RUNNING:
            raise ValidationError("This step is running; wait for it to finish or fail.")
        step.status = FulfilmentStep.Status.WAIVED
        step.waived_reason = reason[:500]
        step.waived_by = actor
        step.finished_at = timezone.now()
        set_history_actor(step, actor)
        step.save(update_fields=["status", "waived_reason", "waived_by", "finished_at"])
        _after_staff_change(step)
    return step


def _after_staff_change(step: FulfilmentStep) -> None:
    if step.kind == FulfilmentStep.Kind.LOCATE:
        if step.status == FulfilmentStep.Status.PENDING:
            step_enqueue(step)
        else:
            request_id = step.request_id
            transaction.on_commit(lambda: plans_build(request_id=request_id))
    elif step.kind == FulfilmentStep.Kind.EXPORT:
        bundle_id = step.bundle_id
        transaction.on_commit(lambda: bundle_progress(bundle_id=bundle_id))
    elif step.plan_id:
        plan_id = step.plan_id
        transaction.on_commit(lambda: plan_continue(plan_id=plan_id))


def manual_task_steps_continue(task: ManualTask) -> int:
    """Queue again, in the caller's transaction, the steps waiting on ``task`` (a manual task just marked
    done), so they move on at once rather than at the next poll. Returns how many jobs it queued."""
    queued = set()
    waiting = FulfilmentStep.objects.filter(
        status=FulfilmentStep.Status.WAITING, external_reference=f"manual task {task.pk}"
    ).order_by("pk")
    for step in waiting:
        key = (step.bundle_id, step.system_id) if step.kind == FulfilmentStep.Kind.EXPORT else step.pk
        if key not in queued:
            queued.add(key)
            step_enqueue(step)
    return len(queued)


def waiting_steps_poll() -> int:
    """Queue again every step waiting on a manual task or a webhook job (the beat job). Returns how many."""
    queued = set()
    for step in FulfilmentStep.objects.filter(status=FulfilmentStep.Status.WAITING).order_by("pk"):
        key = (step.bundle_id, step.system_id) if step.kind == FulfilmentStep.Kind.EXPORT else step.pk
        if key not in queued:
            queued.add(key)
            step_enqueue(step)
    return len(queued)
