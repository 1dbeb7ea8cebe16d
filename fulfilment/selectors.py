"""Reads of the fulfilment app: a request's fulfilment at a glance, what letters say, the dashboard."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from fulfilment.models import (
    DownloadLink,
    ExportBundle,
    FulfilmentPlan,
    FulfilmentStep,
    LocatedTable,
    RecipientNotice,
    TableAction,
)
from requests_app.models import RightsRequest


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
    def located_by_system(self) -> list[dict]:
        """Rows found per system: the tables with rows, and the zero-row tables folded into a count."""
        groups: dict[int, dict] = {}
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


def kept_items(request: RightsRequest) -> list[dict[str, str]]:
    """What an erasure kept and why, as the completion and refusal letters list it (Art. 17(3)(b))."""
    steps = (
        FulfilmentStep.objects.filter(
            request=request,
            kind=FulfilmentStep.Kind.ERASE,
            action=TableAction.KEEP,
            status=FulfilmentStep.Status.DONE,
            rows_kept__gt=0,
        )
        .select_related("system", "table")
        .order_by("system__name", "table__table_name")
    )
    items = []
    for step in steps:
        description = step.table.description.split(".")[0] if step.table.description else step.table.table_name
        items.append({"what": f"{description} ({step.rows_kept} records in {step.system.name})", "why": step.reason})
    return items


def letter_context(request: RightsRequest) -> dict:
    """What the fulfilment adds to a letter: the kept data and the bundle's download link."""
    from fulfilment.services.exports import download_url

    context: dict = {"kept": kept_items(request)}
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
    return context


def dashboard_counts() -> dict[str, int]:
    plans = FulfilmentPlan.objects.aggregate(
        awaiting=Count("pk", filter=Q(status=FulfilmentPlan.Status.AWAITING_APPROVAL)),
        running=Count("pk", filter=Q(status=FulfilmentPlan.Status.APPROVED)),
    )
    steps = FulfilmentStep.objects.aggregate(
        failed=Count("pk", filter=Q(status=FulfilmentStep.Status.FAILED)),
        waiting=Count("pk", filter=Q(status=FulfilmentStep.Status.WAITING)),
    )
    return {
        "plans_awaiting": plans["awaiting"],
        "plans_running": plans["running"],
        "steps_failed": steps["failed"],
        "steps_waiting": steps["waiting"],
        "bundles_building": ExportBundle.objects.filter(status=ExportBundle.Status.BUILDING).count(),
        "notices_unconfirmed": RecipientNotice.objects.filter(
            status__in=[RecipientNotice.Status.SENT, RecipientNotice.Status.FAILED, RecipientNotice.Status.PENDING]
        ).count(),
    }
