"""Reads of the fulfilment app: a request's fulfilment at a glance, what letters say, the dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince

from fulfilment.models import (
    DownloadLink,
    ExportBundle,
    FulfilmentPlan,
    FulfilmentStep,
    LocatedTable,
    PlanKind,
    RecipientNotice,
    TableAction,
)
from fulfilment.wording import category_names, in_sentence, join_words, period_words, plural
from requests_app.models import OPEN_STATUSES, RequestLine, RightsRequest
from retention.models import LegalHold, RetentionRule

if TYPE_CHECKING:
    from compliance.models import MappedTable, Regime


@dataclass
class RequestFulfilment:
    located: list[LocatedTable] = field(default_factory=list)
    locate_steps: list[FulfilmentStep] = field(default_factory=list)
    plans: list[FulfilmentPlan] = field(default_factory=list)
    steps: list[FulfilmentStep] = field(default_factory=list)
    bundle: ExportBundle | None = None
    notices: list[RecipientNotice] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return bool(self.locate_steps)

    @property
    def located_by_system(self) -> list[dict[str, Any]]:
        """Rows found per system: the tables with rows, and the zero-row tables folded into a count."""
        groups: dict[int, dict[str, Any]] = {}
        for row in self.located:
            group = groups.setdefault(row.system_id, {"system": row.system, "total": 0, "tables": [], "empty": []})
            group["total"] += row.rows
            (group["tables"] if row.rows else group["empty"]).append(row)
        return list(groups.values())

    @property
    def failed_steps(self) -> list[FulfilmentStep]:
        return [s for s in self.locate_steps + self.steps if s.status == FulfilmentStep.Status.FAILED]

    @property
    def bundle_progress(self) -> tuple[int, int]:
        exports = [s for s in self.steps if s.kind == FulfilmentStep.Kind.EXPORT]
        return sum(1 for s in exports if s.is_finished), len(exports)


_MANUAL_TASK = re.compile(r"^manual task (\d+)$")


def manual_task_id(step: FulfilmentStep) -> int | None:
    """The manual task a waiting step waits on (its external reference names it), if any."""
    match = _MANUAL_TASK.match(step.external_reference or "")
    return int(match.group(1)) if match else None


def request_fulfilment(request: RightsRequest) -> RequestFulfilment:
    """Everything the workers did or plan to do for ``request``, for its admin page."""
    steps = list(
        FulfilmentStep.objects.filter(request=request)
        .select_related("system", "table")
        .order_by("kind", "system__name", "position", "id")
    )
    for step in steps:
        step.manual_task_id = manual_task_id(step)
    return RequestFulfilment(
        located=list(
            LocatedTable.objects.filter(request=request)
            .select_related("system", "table")
            .order_by("system__name", "table__table_name")
        ),
        locate_steps=[s for s in steps if s.kind == FulfilmentStep.Kind.LOCATE],
        plans=list(FulfilmentPlan.objects.filter(request=request).select_related("line__right", "approved_by")),
        steps=[s for s in steps if s.kind != FulfilmentStep.Kind.LOCATE],
        bundle=ExportBundle.objects.filter(request=request).order_by("-created_at").first(),
        notices=list(RecipientNotice.objects.filter(request=request).select_related("subprocessor")),
    )


def _why_kept(step: FulfilmentStep, request: RightsRequest, holds: list[Any], rules: list[Any]) -> tuple[str, str]:
    """Why a kept table was kept and until when, in the requester's words (the step's reason names the
    rule or hold by its internal name; this finds them again and speaks of their purpose and period)."""
    from fulfilment.services.plans import BACK_OFFICE_KEEP_REASON

    if step.reason == BACK_OFFICE_KEEP_REASON:
        months = request.regime.record_retention_months
        return (
            "it is the evidence that we handled your request as the law requires",
            f"for {plural(months, 'month')} after we close your request",
        )
    for hold in holds:
        if hold.exemption_reason() in step.reason:
            until = (
                f"until {date_format(timezone.localtime(hold.ends_at), 'j F Y')}"
                if hold.ends_at
                else "until that matter is resolved"
            )
            return f"we must keep it for a legal matter ({hold.get_reason_display().lower()})", until
    table_rules = [rule for rule in rules if rule.table_id == step.table_id]
    for rule in sorted(table_rules, key=lambda r: r.exemption_reason() not in step.reason):
        why = rule.justification.strip().rstrip(".")
        why = why[:1].lower() + why[1:] if why[1:2].islower() else why
        if rule.legal_basis.slug == "legal-obligation":
            source = f" ({rule.legal_source})" if rule.legal_source else ""
            why = f"{why}, which the law requires us to keep{source}"
        until = period_words(
            rule.period, rule.period_unit, rule.period_anchor, subject_event=rule.trigger == rule.Trigger.SUBJECT_EVENT
        )
        return why, until
    return "we need it to keep our records complete", "until our retention schedule removes it"


@dataclass
class SystemSummary:
    """What approving an erasure plan does in one system of record."""

    name: str
    rows_deleted: int = 0
    rows_masked: int = 0
    rows_kept: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)


def plan_approval_summary(plan: FulfilmentPlan) -> dict[str, Any]:
    """Per system, the rows an approved plan deletes, masks and keeps (with why), for the confirmation page."""
    from compliance.models import SystemOfRecord

    systems: dict[int, SystemSummary] = {}
    names = {
        system.pk: system
        for system in SystemOfRecord.objects.filter(pk__in={entry["system_id"] for entry in plan.tables})
    }
    for entry in plan.tables:
        system = names.get(entry["system_id"])
        summary = systems.setdefault(
            entry["system_id"],
            SystemSummary(name=system.name if system else entry["system"]),
        )
        rows = entry.get("rows") or 0
        if entry["action"] == TableAction.DELETE:
            summary.rows_deleted += rows
        elif entry["action"] == TableAction.MASK:
            summary.rows_masked += rows
        if entry["action"] != TableAction.KEEP and (entry.get("keep_rows") or entry.get("holds")):
            # A rule keeps the rows inside its period: how many is known when the erasure runs.
            summary.kept.append({"table": entry["table"], "rows": None, "reason": entry.get("reason") or ""})
        elif entry["action"] == TableAction.KEEP:
            summary.rows_kept += rows
            summary.kept.append({"table": entry["table"], "rows": rows, "reason": entry.get("reason") or ""})
    ordered = sorted(systems.values(), key=lambda s: s.name)
    return {
        "systems": ordered,
        "rows_deleted": sum(s.rows_deleted for s in ordered),
        "rows_masked": sum(s.rows_masked for s in ordered),
        "rows_kept": sum(s.rows_kept for s in ordered),
        "has_kept": any(s.kept for s in ordered),
    }


def kept_whys(request: RightsRequest, steps: list[FulfilmentStep]) -> list[str]:
    """Why these kept steps were kept, each reason once, in the requester's words."""
    holds = list(LegalHold.objects.all())
    rules = list(
        RetentionRule.objects.filter(table_id__in={s.table_id for s in steps}, is_enabled=True).select_related(
            "legal_basis"
        )
    )
    whys: list[str] = []
    for step in steps:
        why, _until = _why_kept(step, request, holds, rules)
        if why not in whys:
            whys.append(why)
    return whys


def _kept_restriction(step: FulfilmentStep) -> dict[str, Any]:
    """How rows an erasure kept under a rule or hold are restricted (Art. 18) and until which date, from the
    step's evidence: ``restricted`` (done), ``restricted_how`` ("flag" or "manual"), ``until_date`` (None for
    an open-ended hold) and ``until_text`` ("until 31 March 2032"). All empty for a step that kept none so."""
    kept = (step.evidence or {}).get("kept") or {}
    return {
        "restricted": bool(kept.get("restricted")),
        "restricted_how": kept.get("how", ""),
        "until_date": date.fromisoformat(kept["until"]) if kept.get("until") else None,
        "until_text": kept.get("until_text", ""),
    }


def kept_items(request: RightsRequest) -> list[dict[str, Any]]:
    """What an erasure kept, why and until when, as the completion and refusal letters list it (Art. 17(3)):
    one item per reason, naming the categories of data and the systems (manual ones included). Rows kept
    under a rule or hold (Art. 17(3)(b)) also say whether their processing is restricted (Art. 18), how, and
    until which date (see ``_kept_restriction``)."""
    from fulfilment.services.plans import NOT_KEPT_REASONS

    steps = list(
        FulfilmentStep.objects.filter(
            request=request,
            kind=FulfilmentStep.Kind.ERASE,
            status=FulfilmentStep.Status.DONE,
        )
        .filter(Q(action=TableAction.KEEP) | Q(rows_kept__gt=0))
        .exclude(reason__in=NOT_KEPT_REASONS)
        .select_related("system", "table")
        .order_by("system__name", "table__table_name")
    )
    if not steps:
        return []
    holds = list(LegalHold.objects.all())
    rules = list(
        RetentionRule.objects.filter(table_id__in={s.table_id for s in steps}, is_enabled=True).select_related(
            "legal_basis"
        )
    )
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for step in steps:
        why, until = _why_kept(step, request, holds, rules)
        restriction = _kept_restriction(step)
        key = (why, until, *restriction.values())
        group = grouped.setdefault(key, {"tables": [], "systems": [], **restriction})
        group["tables"].append(step.table_id)
        if step.system.name not in group["systems"]:
            group["systems"].append(step.system.name)
    from fulfilment.services.plans import BACK_OFFICE_KEEP_REASON

    items: list[dict[str, Any]] = []
    for key, group in grouped.items():
        why, until = key[0], key[1]
        names = category_names(group["tables"])
        if any(s.reason == BACK_OFFICE_KEEP_REASON and s.table_id in group["tables"] for s in steps):
            what = "A record of your request and of how we answered it"
        else:
            what = ("Your " + join_words(names)) if names else "Some of your personal data"
            what += f" (in {join_words(group['systems'])})"
        item = {"what": what, "why": why, "until": until}
        if group["restricted_how"] or group["until_date"]:  # kept under a rule or hold: restricted, until when
            item.update({key: group[key] for key in ("restricted", "restricted_how", "until_date", "until_text")})
        items.append(item)
    return items


def letter_context(request: RightsRequest) -> dict[str, Any]:
    """What the fulfilment adds to a letter: the kept data and the bundle's download link."""
    from fulfilment.services.exports import download_url

    context: dict[str, Any] = {"kept": kept_items(request)}
    link = (
        DownloadLink.objects.filter(
            bundle__request=request,
            bundle__status=ExportBundle.Status.READY,
            revoked_at__isnull=True,
            locked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if link is not None:
        context["download_url"] = download_url(link)
        context["download_expires"] = link.expires_at
        # The access answer (Art. 15(1)-(2)) in the letter too, for the tables the bundle holds.
        tables = [
            step.table
            for step in FulfilmentStep.objects.filter(bundle=link.bundle, kind=FulfilmentStep.Kind.EXPORT)
            .select_related("table")
            .prefetch_related("table__columns__data_category")
            if step.table_id
        ]
        context["access"] = access_answer(request, tables)
    return context


def dashboard_counts() -> dict[str, Any]:
    plans = FulfilmentPlan.objects.aggregate(
        awaiting=Count("pk", filter=Q(status=FulfilmentPlan.Status.AWAITING_APPROVAL)),
        running=Count("pk", filter=Q(status=FulfilmentPlan.Status.APPROVED)),
    )
    steps = FulfilmentStep.objects.aggregate(
        failed=Count("pk", filter=Q(status=FulfilmentStep.Status.FAILED)),
        waiting=Count("pk", filter=Q(status=FulfilmentStep.Status.WAITING)),
    )
    stalled = stalled_summary()
    return {
        "stalled": stalled.count,
        "stalled_oldest": timesince(stalled.oldest) if stalled.oldest else "",
        "plans_awaiting": plans["awaiting"],
        "plans_running": plans["running"],
        "steps_failed": steps["failed"],
        "steps_waiting": steps["waiting"],
        "bundles_building": ExportBundle.objects.filter(status=ExportBundle.Status.BUILDING).count(),
        "notices_unconfirmed": RecipientNotice.objects.filter(
            status__in=[RecipientNotice.Status.SENT, RecipientNotice.Status.FAILED, RecipientNotice.Status.PENDING]
        ).count(),
    }


# ------------------------------------------------------------------------------
# Stalled work (issue 18): what a lost worker or a lost job left behind
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stall:
    """One piece of work nothing is carrying on: what it is, since when, and what resumes it."""

    what: str  # for staff: kind, request reference, system and table (never personal data)
    since: datetime
    resume: str  # "step", "plan", "plan_progress", "bundle" or "plans_build"
    object_id: int
    request_id: int


def _lapsed() -> datetime:
    from fulfilment.services.common import lease_lapsed_before

    return lease_lapsed_before()


def _step_label(step: FulfilmentStep) -> str:
    where = f"{step.system.slug}.{step.table.table_name}" if step.table_id else step.system.slug
    return f"{step.get_kind_display()} step of {step.request.reference} ({where})"


def stalled_work() -> list[Stall]:
    """Work whose worker is gone or whose job was lost, oldest first.

    - a running step whose lease lapsed (its worker stopped renewing it);
    - a pending step queued longer ago than the lease and never started (its job was lost);
    - an approved plan with nothing running or queued although a step can run, or every step finished
      and the completion not recorded; an export plan whose bundle is ready but which is not completed;
    - a bundle whose every export step is finished, not assembled and with no assembly under way;
    - a request located everywhere but not planned.
    Only work idle for longer than ``FULFILMENT_LEASE_SECONDS`` counts, so work changing hands is not.
    """
    cutoff = _lapsed()
    stalls: list[Stall] = []
    live_plans = Q(plan__status=FulfilmentPlan.Status.APPROVED) | Q(bundle__status=ExportBundle.Status.BUILDING)
    live_plans |= Q(kind=FulfilmentStep.Kind.LOCATE)
    running = (
        FulfilmentStep.objects.order_by("pk")
        .filter(live_plans, status=FulfilmentStep.Status.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff))
        .select_related("request", "system", "table")
    )
    seen_exports = set()
    for step in running:
        if step.kind == FulfilmentStep.Kind.EXPORT:
            if (step.bundle_id, step.system_id) in seen_exports:
                continue
            seen_exports.add((step.bundle_id, step.system_id))
        since = step.heartbeat_at or step.started_at
        stalls.append(Stall(f"{_step_label(step)}: worker lost", since, "step", step.pk, step.request_id))
    lost = (
        FulfilmentStep.objects.filter(live_plans, status=FulfilmentStep.Status.PENDING, queued_at__lt=cutoff)
        .select_related("request", "system", "table")
        .order_by("pk")
    )
    for step in lost:
        if step.kind == FulfilmentStep.Kind.EXPORT:
            if (step.bundle_id, step.system_id) in seen_exports:
                continue
            seen_exports.add((step.bundle_id, step.system_id))
        stalls.append(Stall(f"{_step_label(step)}: job lost", step.queued_at, "step", step.pk, step.request_id))
    stalls.extend(_stalled_plans(cutoff))
    stalls.extend(_stalled_bundles(cutoff))
    stalls.extend(_unplanned_requests(cutoff))
    return sorted(stalls, key=lambda stall: stall.since)


def _stalled_plans(cutoff: datetime) -> list[Stall]:
    stalls = []
    plans = FulfilmentPlan.objects.filter(status=FulfilmentPlan.Status.APPROVED).select_related("request")
    for plan in plans.prefetch_related("steps"):
        if plan.kind == PlanKind.EXPORT:
            bundle = ExportBundle.objects.filter(request_id=plan.request_id, status=ExportBundle.Status.READY).first()
            if bundle is not None and bundle.built_at < cutoff:
                what = f"Access plan of {plan.request.reference}: bundle ready, completion not recorded"
                stalls.append(Stall(what, bundle.built_at, "plan_progress", plan.pk, plan.request_id))
            continue
        steps = sorted(plan.steps.all(), key=lambda s: (s.system_id, s.position, s.pk))
        if not steps:
            continue
        building = ExportBundle.objects.filter(request_id=plan.request_id, status=ExportBundle.Status.BUILDING)
        if plan.kind == PlanKind.ERASURE and building.exists():
            continue  # it waits for the bundle, whose own stall (if any) is listed
        moments = [s.finished_at or s.started_at for s in steps if s.finished_at or s.started_at]
        last = max(moments + [plan.approved_at or plan.created_at])
        if last >= cutoff:
            continue
        if all(step.is_finished for step in steps):
            what = f"{plan.get_kind_display()} plan of {plan.request.reference}: every step finished, not completed"
            stalls.append(Stall(what, last, "plan", plan.pk, plan.request_id))
            continue
        heads, held = [], set()
        for step in steps:
            if step.is_finished or (plan.kind == PlanKind.ERASURE and step.system_id in held):
                continue
            held.add(step.system_id)
            heads.append(step)
        if any(s.status == FulfilmentStep.Status.PENDING and s.queued_at is None for s in heads):
            what = f"{plan.get_kind_display()} plan of {plan.request.reference}: next step never queued"
            stalls.append(Stall(what, last, "plan", plan.pk, plan.request_id))
    return stalls


def _stalled_bundles(cutoff: datetime) -> list[Stall]:
    stalls = []
    for bundle in ExportBundle.objects.filter(status=ExportBundle.Status.BUILDING).select_related("request"):
        steps = list(bundle.steps.all())
        moments = [bundle.created_at] + [s.finished_at for s in steps if s.finished_at]
        moments += [m for m in (bundle.assembly_heartbeat_at, bundle.assembly_queued_at) if m]
        last = max(moments)
        if last >= cutoff:
            continue
        if all(step.is_finished for step in steps):
            what = f"Export bundle of {bundle.request.reference}: every table exported, not assembled"
            stalls.append(Stall(what, last, "bundle", bundle.pk, bundle.request_id))
        elif any(s.status == FulfilmentStep.Status.PENDING and s.queued_at is None for s in steps):
            what = f"Export bundle of {bundle.request.reference}: an export never queued"
            stalls.append(Stall(what, last, "bundle", bundle.pk, bundle.request_id))
    return stalls


def _unplanned_requests(cutoff: datetime) -> list[Stall]:
    from fulfilment.services.common import RIGHT_PLAN_KIND

    located = (
        RightsRequest.objects.filter(status__in=OPEN_STATUSES, fulfilment_steps__kind=FulfilmentStep.Kind.LOCATE)
        .exclude(fulfilment_plans__isnull=False)
        .annotate(
            unfinished=Count(
                "fulfilment_steps",
                filter=Q(fulfilment_steps__kind=FulfilmentStep.Kind.LOCATE)
                & ~Q(fulfilment_steps__status__in=FulfilmentStep.FINISHED),
            ),
            last=Max("fulfilment_steps__finished_at"),
        )
        .filter(unfinished=0, last__lt=cutoff)
        .filter(lines__right__slug__in=list(RIGHT_PLAN_KIND))
        .exclude(lines__status=RequestLine.Status.COMPLETED)
        .distinct()
    )
    return [
        Stall(
            f"Request {request.reference}: located everywhere, not planned",
            request.last,
            "plans_build",
            request.pk,
            request.pk,
        )
        for request in located
    ]


@dataclass(frozen=True)
class StalledSummary:
    count: int
    oldest: datetime | None

    @property
    def oldest_age(self) -> timedelta | None:
        return timezone.now() - self.oldest if self.oldest else None


def stalled_summary() -> StalledSummary:
    stalls = stalled_work()
    return StalledSummary(count=len(stalls), oldest=stalls[0].since if stalls else None)


def stalled_digest_lines() -> list[str]:
    """The officers' digest section: one line per stalled piece of work (``DIGEST_SECTIONS``)."""
    now = timezone.now()
    return [f"{stall.what}, idle {timesince(stall.since, now)}" for stall in stalled_work()]


# ------------------------------------------------------------------------------
# The access answer (Art. 15(1)-(2); LGPD Art. 9/19; FADP Art. 25(2); CCPA §1798.110)
# ------------------------------------------------------------------------------


def request_regimes(request: RightsRequest) -> list[Regime]:
    """The regimes that govern the answer to ``request``, its primary regime first (REGULATIONS §1a): the
    rights offered are the union of what they grant, and each one's complaint route is given."""
    from requests_app.services.requests import request_governing_regimes

    return request_governing_regimes(request)


# Where data comes from, as a letter to the person says it (a third party is named by the data map).
SOURCE_WORDS = {"person": "you", "service_use": "your use of our service"}


@dataclass
class RightOffered:
    right: object
    how_to_use: str
    granted_by: list[str]
    notes: list[str]


@dataclass
class Transfer:
    country: str
    safeguard: str
    recipient: str
    categories: list[str]


def rights_offered(regimes: list[Regime]) -> list[RightOffered]:
    """The rights the regimes grant (their union), each with how to use it and which law grants it.

    A right no regime of the request grants is not offered: a letter that lists a right the law then
    refuses misleads the requester.
    """
    from compliance.models import RegimeRight

    offered: dict[int, RightOffered] = {}
    for regime_right in (
        RegimeRight.objects.filter(regime__in=regimes)
        .select_related("right", "regime")
        .order_by("right__display_order", "regime__name")
    ):
        right = regime_right.right
        entry = offered.setdefault(
            right.pk,
            RightOffered(right=right, how_to_use=right.how_to_use or right.description, granted_by=[], notes=[]),
        )
        entry.granted_by.append(regime_right.regime.name)
        if regime_right.notes:
            entry.notes.append(regime_right.notes)
    return list(offered.values())


def transfers_for_categories(category_ids: set[int]) -> list[Transfer]:
    """Countries outside the UK/EEA the data goes to, through which recipient, under which safeguard
    (Art. 15(2)), from the subprocessor register."""
    from subprocessors.models import ProcessingLocation, Subprocessor

    locations = (
        ProcessingLocation.objects.filter(
            subprocessor__status__in=Subprocessor.PROCESSING_STATUSES,
            subprocessor__data_categories__in=category_ids,
            is_pending=False,
        )
        .exclude(mechanism=ProcessingLocation.Mechanism.NONE_REQUIRED)
        .select_related("subprocessor")
        .prefetch_related("subprocessor__data_categories")
        .distinct()
    )
    transfers = []
    for location in sorted(locations, key=lambda loc: (loc.country.name, str(loc.subprocessor))):
        safeguard = location.get_mechanism_display()
        if location.scc_module:
            safeguard += f" ({location.get_scc_module_display()})"
        transfers.append(
            Transfer(
                country=location.country.name,
                safeguard=safeguard,
                recipient=str(location.subprocessor),
                categories=sorted(c.name for c in location.subprocessor.data_categories.all() if c.pk in category_ids),
            )
        )
    return transfers


def third_party_categories_past_year(category_ids: set[int], *, today: date | None = None) -> list[str]:
    """Categories of third parties the data was disclosed to in the past 12 months (CCPA §1798.110(c))."""
    from subprocessors.models import Subprocessor

    today = today or timezone.localdate()
    vendors = Subprocessor.objects.filter(data_categories__in=category_ids).filter(
        Q(status__in=Subprocessor.PROCESSING_STATUSES)
        | Q(status=Subprocessor.Status.RETIRED, retired_on__gte=today - timedelta(days=365))
    )
    return sorted({vendor.get_category_display() for vendor in vendors.distinct()})


def access_answer(request: RightsRequest, tables: list[MappedTable]) -> dict[str, Any]:
    """Everything an access answer gives beside the copy of the data, for the tables found about the person.

    Art. 15(1)(a)-(h) and 15(2): purposes, categories, recipients, retention, the rights the request's
    regimes grant with how to use them, the right to complain (each regime's authority), the source of
    data not collected from the person, automated decision-making, and transfers outside the UK/EEA with
    their countries and safeguards; and what the CCPA adds (categories of sources, business purposes,
    categories of third parties over the past 12 months).
    """
    from compliance.models import DataCategory, ProcessingActivity, data_source_display
    from requests_app.services.communications import regime_complaint_route
    from subprocessors.selectors import recipients_for_categories

    regimes = request_regimes(request)
    category_ids: set[int] = set()
    sources: dict[tuple[str, str], set[str]] = {}
    for table in tables:
        for column in table.columns.all():
            if column.data_category_id is None:
                continue
            category_ids.add(column.data_category_id)
            # A column's own source, else its table's ("" when the map does not say).
            source, party = (
                (column.data_source, column.data_source_party)
                if column.data_source
                else (table.data_source, table.data_source_party)
            )
            if source:
                sources.setdefault((source, party), set()).add(column.data_category.name)
    activities = list(
        ProcessingActivity.objects.filter(data_categories__in=category_ids)
        .select_related("purpose", "legal_basis")
        .distinct()
        .order_by("name")
    )
    categories = list(DataCategory.objects.filter(pk__in=category_ids).order_by("display_order", "name"))
    return {
        "regimes": regimes,
        "rights_offered": rights_offered(regimes),
        "regime_names": join_words(regime.name for regime in regimes),
        "complaints": [regime_complaint_route(regime) for regime in regimes if regime.supervisory_authority],
        "courts": join_words(regime.name for regime in regimes if regime.courts_remedy),
        "recipients": [str(vendor) for vendor in recipients_for_categories(category_ids=category_ids)]
        if category_ids
        else [],
        "categories": categories,
        "category_words": join_words(in_sentence(category.name) for category in categories),
        "purposes": sorted({(a.purpose.name, a.legal_basis.name) for a in activities}),
        "sources": [
            {
                "source": data_source_display(source, party),
                "words": SOURCE_WORDS.get(source) or party,  # the letter speaks to the person
                "categories": sorted(cats),
                "category_words": join_words(in_sentence(name) for name in sorted(cats)),
            }
            for (source, party), cats in sorted(sources.items())
        ],
        "automated_activities": [a for a in activities if a.automated_decisions],
        "transfers": transfers_for_categories(category_ids),
        "third_party_categories": third_party_categories_past_year(category_ids),
    }
