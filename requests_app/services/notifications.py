"""What the worker jobs send staff: digests, escalations, identity reminders and failed letters.

Each email is recorded in ``NotificationSent`` (unique per kind, recipient, request
and date) in the same transaction that sends it, so running a job twice in a day,
or on two workers at once, sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from compliance.emails import email_message
from compliance.roles import COMPLIANCE_OFFICER
from requests_app.deadlines import DUE_SOON_DAYS, sla_state
from requests_app.models import (
    OPEN_APPEAL_STATUSES,
    OPEN_STATUSES,
    Appeal,
    Communication,
    EventType,
    NotificationKind,
    NotificationSent,
    RequestStatus,
    RightsRequest,
)
from requests_app.services.requests import rights_request_recompute

IDENTITY_REMINDER_DAYS = 7


def _officers() -> QuerySet[User]:
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=COMPLIANCE_OFFICER)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def _claim(*, kind: str, recipient: User, on_date: dt.date, request: RightsRequest | None = None) -> bool:
    """Record the notification; False if it was already recorded (sent before)."""
    try:
        with transaction.atomic():
            NotificationSent.objects.create(kind=kind, recipient=recipient, request=request, on_date=on_date)
    except IntegrityError:
        return False
    return True


def _send(recipient: User, template: str, context: dict[str, Any]) -> None:
    email_message(f"requests_app/emails/{template}", context, to=[recipient.email]).send()


def _base_context(today: dt.date) -> dict[str, Any]:
    return {"today": today}


def _open_not_paused() -> QuerySet[RightsRequest]:
    return RightsRequest.objects.filter(status__in=OPEN_STATUSES, paused_since__isnull=True)


def digests_send(*, today: dt.date | None = None) -> int:
    """Email each assignee the list of their open requests and appeals due soon, urgent or overdue. Once a day."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=DUE_SOON_DAYS - 1)
    rows = (
        _open_not_paused()
        .filter(assignee__isnull=False, assignee__is_active=True, due_date__lte=horizon)
        .exclude(assignee__email="")
        .select_related("assignee", "regime")
        .order_by("due_date", "reference")
    )
    by_assignee: dict[int, list[RightsRequest]] = defaultdict(list)
    appeals_by_assignee: dict[int, list[Appeal]] = defaultdict(list)
    assignees = {}
    for request in rows:
        by_assignee[request.assignee_id].append(request)
        assignees[request.assignee_id] = request.assignee
    # Appeals count like requests: an assignee's open appeals due within the same horizon.
    appeals = (
        Appeal.objects.filter(
            status__in=OPEN_APPEAL_STATUSES, assignee__isnull=False, assignee__is_active=True, due_date__lte=horizon
        )
        .exclude(assignee__email="")
        .select_related("assignee", "request")
        .order_by("due_date", "pk")
    )
    for appeal in appeals:
        appeals_by_assignee[appeal.assignee_id].append(appeal)
        by_assignee.setdefault(appeal.assignee_id, [])
        assignees[appeal.assignee_id] = appeal.assignee
    # What officers must hear of although no due date shows it (stalled fulfilment work): every officer
    # gets it, with their own requests or alone.
    attention = [line for path in settings.DIGEST_SECTIONS for line in import_string(path)()]
    officers = {officer.pk: officer for officer in _officers()} if attention else {}
    for officer_id, officer in officers.items():
        by_assignee.setdefault(officer_id, [])
        assignees.setdefault(officer_id, officer)
    sent = 0
    for assignee_id, requests in by_assignee.items():
        recipient = assignees[assignee_id]
        with transaction.atomic():
            if not _claim(kind=NotificationKind.DIGEST, recipient=recipient, on_date=today):
                continue
            items = [{"request": r, "sla": sla_state(r.due_date, today)} for r in requests]
            appeal_items = [
                {"appeal": a, "sla": sla_state(a.due_date, today)} for a in appeals_by_assignee.get(assignee_id, [])
            ]
            context = {**_base_context(today), "recipient": recipient, "items": items, "appeal_items": appeal_items}
            context["attention"] = attention if assignee_id in officers else []
            _send(recipient, "digest", context)
            sent += 1
    return sent


def _escalate(recipients: Iterable[Any], candidates: list[tuple[str, RightsRequest, dt.date]], today: dt.date) -> int:
    sent = 0
    for recipient in recipients:
        with transaction.atomic():
            fresh = [
                (kind, request, missed)
                for kind, request, missed in candidates
                if _claim(kind=kind, recipient=recipient, on_date=missed, request=request)
            ]
            if not fresh:
                continue
            items = [
                {"kind": NotificationKind(kind).label, "request": request, "missed": missed}
                for kind, request, missed in fresh
            ]
            _send(recipient, "escalation", {**_base_context(today), "recipient": recipient, "items": items})
            sent += 1
    return sent


def escalations_send(*, today: dt.date | None = None) -> int:
    """Tell compliance officers about every missed acknowledgement, due date or appeal answer date, once per
    date missed."""
    today = today or timezone.localdate()
    candidates: list[tuple[str, RightsRequest, dt.date]] = []
    open_requests = _open_not_paused().select_related("regime", "assignee")
    for request in open_requests.filter(acknowledge_by__lt=today, acknowledged_at__isnull=True).order_by("pk"):
        candidates.append((NotificationKind.ACK_MISSED, request, request.acknowledge_by))
    for request in open_requests.filter(due_date__lt=today).order_by("pk"):
        candidates.append((NotificationKind.DUE_MISSED, request, request.due_date))
    # An appeal's answer date counts like a request's due date (recorded against its request).
    overdue_appeals = Appeal.objects.filter(status__in=OPEN_APPEAL_STATUSES, due_date__lt=today)
    for appeal in overdue_appeals.select_related("request__regime", "request__assignee").order_by("pk"):
        candidates.append((NotificationKind.APPEAL_DUE_MISSED, appeal.request, appeal.due_date))
    if not candidates:
        return 0
    return _escalate(_officers(), candidates, today)


def identity_reminders_send(*, today: dt.date | None = None) -> int:
    """Remind the assignee (or the officers) of requests waiting on identity for 7 days, once per ask."""
    today = today or timezone.localdate()
    cutoff = today - dt.timedelta(days=IDENTITY_REMINDER_DAYS)
    waiting = (
        RightsRequest.objects.filter(status=RequestStatus.AWAITING_IDENTITY)
        .annotate(asked_at=Max("events__at", filter=Q(events__type=EventType.IDENTITY_REQUESTED)))
        .select_related("assignee")
        .order_by("pk")
    )
    sent = 0
    officers = list(_officers())
    for request in waiting:
        if request.asked_at is None:
            continue
        asked_on = timezone.localdate(request.asked_at)
        if asked_on > cutoff:
            continue
        assignee = request.assignee
        recipients = [assignee] if assignee is not None and assignee.is_active and assignee.email else officers
        for recipient in recipients:
            with transaction.atomic():
                if not _claim(
                    kind=NotificationKind.IDENTITY_REMINDER, recipient=recipient, on_date=asked_on, request=request
                ):
                    continue
                context = {
                    **_base_context(today),
                    "recipient": recipient,
                    "request": request,
                    "asked_on": asked_on,
                    "days": (today - asked_on).days,
                }
                _send(recipient, "identity_reminder", context)
                sent += 1
    return sent


def letter_failed_alert(*, communication_id: int) -> int:
    """Tell the request's handler (or, with none, the compliance officers) that a letter never went out. Once.

    The email names the request, the letter and why it failed (an error type), never the requester's details.
    """
    communication = (
        Communication.objects.select_related("request__assignee", "request__regime").filter(pk=communication_id).first()
    )
    if communication is None or communication.failed_at is None:
        return 0
    request = communication.request
    assignee = request.assignee
    recipients = [assignee] if assignee is not None and assignee.is_active and assignee.email else list(_officers())
    failed_on = timezone.localdate(communication.failed_at)
    sent = 0
    for recipient in recipients:
        with transaction.atomic():
            if not _claim(kind=NotificationKind.LETTER_FAILED, recipient=recipient, on_date=failed_on, request=request):
                continue
            context = {
                **_base_context(timezone.localdate()),
                "recipient": recipient,
                "request": request,
                "letter": communication,
            }
            _send(recipient, "letter_failed", context)
            sent += 1
    return sent


def paused_deadlines_refresh(*, today: dt.date | None = None) -> int:
    """Recompute requests waiting on a clarification, whose due date moves while the clock is paused."""
    today = today or timezone.localdate()
    count = 0
    for pk in RightsRequest.objects.filter(paused_since__isnull=False, status__in=OPEN_STATUSES).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            request = RightsRequest.objects.select_for_update().select_related("regime").get(pk=pk)
            rights_request_recompute(request=request, today=today)
            count += 1
    return count
