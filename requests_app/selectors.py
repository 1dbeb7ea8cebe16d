"""Reads of the rights-request app: SLA filters, dashboard figures, the audit log, timelines, and the
identifiers a request's verification covers."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.db.utils import ConnectionDoesNotExist
from django.utils import timezone

from compliance.models import Right
from requests_app.deadlines import (
    CLOSED,
    DUE_SOON,
    ON_TRACK,
    OVERDUE,
    PAUSED,
    SLA_LABELS,
    URGENT,
    sla_bounds,
    sla_state,
)
from requests_app.models import (
    OPEN_APPEAL_STATUSES,
    OPEN_STATUSES,
    ApiClient,
    Appeal,
    IdentityOutcome,
    RequestLine,
    RightsRequest,
)

logger = logging.getLogger(__name__)

SLA_ORDER = [OVERDUE, URGENT, DUE_SOON, ON_TRACK, PAUSED]
NEXT_DAYS = dt.timedelta(days=7)


def request_sla(request: RightsRequest, today: dt.date | None = None) -> str:
    """The request's SLA state today (on track, due soon, urgent, overdue, paused or answered)."""
    return sla_state(
        request.due_date,
        today or timezone.localdate(),
        is_open=request.is_open,
        paused=request.paused_since is not None,
    )


def requests_in_sla_state(queryset: QuerySet[RightsRequest], state: str, today: dt.date | None = None) -> QuerySet[Any]:
    """Filter ``queryset`` to open requests in ``state``, as a range on the indexed due date."""
    today = today or timezone.localdate()
    if state == CLOSED:
        return queryset.exclude(status__in=OPEN_STATUSES)
    open_requests = queryset.filter(status__in=OPEN_STATUSES)
    if state == PAUSED:
        return open_requests.filter(paused_since__isnull=False)
    low, high = sla_bounds(state, today)
    open_requests = open_requests.filter(paused_since__isnull=True)
    if low is not None:
        open_requests = open_requests.filter(due_date__gte=low)
    if high is not None:
        open_requests = open_requests.filter(due_date__lte=high)
    return open_requests


def appeal_sla(appeal: Appeal, today: dt.date | None = None) -> str:
    """The appeal's SLA state today, on the same thresholds as a request's (an appeal never pauses)."""
    return sla_state(appeal.due_date, today or timezone.localdate(), is_open=appeal.is_open)


def appeals_in_sla_state(queryset: QuerySet[Appeal], state: str, today: dt.date | None = None) -> QuerySet[Any]:
    """Filter ``queryset`` to open appeals in ``state``, as a range on the indexed due date."""
    today = today or timezone.localdate()
    if state == CLOSED:
        return queryset.exclude(status__in=OPEN_APPEAL_STATUSES)
    open_appeals = queryset.filter(status__in=OPEN_APPEAL_STATUSES)
    if state == PAUSED:
        return open_appeals.none()
    low, high = sla_bounds(state, today)
    if low is not None:
        open_appeals = open_appeals.filter(due_date__gte=low)
    if high is not None:
        open_appeals = open_appeals.filter(due_date__lte=high)
    return open_appeals


@dataclass(frozen=True)
class AppealFigures:
    open_by_sla: list[tuple[str, str, int]]  # (state, label, count), without "paused"
    open_total: int
    due_next_7_days: int
    overdue: int


def appeal_figures(*, today: dt.date | None = None) -> AppealFigures:
    """Open appeals counted like requests: per SLA state, due in the next 7 days, overdue. One query."""
    today = today or timezone.localdate()
    states = [state for state in SLA_ORDER if state != PAUSED]
    is_open = Q(status__in=OPEN_APPEAL_STATUSES)
    counts = Appeal.objects.aggregate(
        **{state: Count("pk", filter=is_open & _due_range_q(state, today)) for state in states},
        open_total=Count("pk", filter=is_open),
        due_next_7_days=Count("pk", filter=is_open & Q(due_date__gte=today, due_date__lte=today + NEXT_DAYS)),
    )
    return AppealFigures(
        open_by_sla=[(state, SLA_LABELS[state], counts[state]) for state in states],
        open_total=counts["open_total"],
        due_next_7_days=counts["due_next_7_days"],
        overdue=counts[OVERDUE],
    )


def _due_range_q(state: str, today: dt.date) -> Q:
    low, high = sla_bounds(state, today)
    q = Q()
    if low is not None:
        q &= Q(due_date__gte=low)
    if high is not None:
        q &= Q(due_date__lte=high)
    return q


@dataclass(frozen=True)
class DashboardFigures:
    open_by_sla: list[tuple[str, str, int]]  # (state, label, count)
    open_total: int
    due_next_7_days: int  # open, due today or in the 7 days after
    overdue: int
    closed_90_days: int
    on_time_rate: float | None  # percent
    median_days_to_close: float | None
    weekly: list[dict[str, Any]]  # {"week": date, "received": {right: n}, "closed": {right: n}}
    rights: list[str]
    max_weekly: int
    appeals: AppealFigures | None = None


def dashboard_figures(*, today: dt.date | None = None, weeks: int = 12) -> DashboardFigures:
    """The admin index figures, each a single aggregate query over indexed columns."""
    today = today or timezone.localdate()
    base = RightsRequest.objects.all()
    counts = base.aggregate(
        **{state: Count("pk", filter=_state_q(state, today)) for state in SLA_ORDER},
        open_total=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        # A rolling window, not the calendar week: on a Sunday "this week" has one day left in it.
        due_next_7_days=Count(
            "pk",
            filter=Q(status__in=OPEN_STATUSES, due_date__gte=today, due_date__lte=today + NEXT_DAYS),
        ),
    )
    since = timezone.now() - dt.timedelta(days=90)
    closed = list(
        base.filter(closed_at__gte=since).values_list("received_at", "closed_at", "closed_on_time").order_by()
    )
    on_time_rate = round(100 * sum(1 for *_, on_time in closed if on_time) / len(closed), 1) if closed else None
    median = round(statistics.median((c - r).total_seconds() / 86400 for r, c, _ in closed), 1) if closed else None
    weekly, rights, max_weekly = _weekly_by_right(today, weeks)
    return DashboardFigures(
        open_by_sla=[(state, SLA_LABELS[state], counts[state]) for state in SLA_ORDER],
        open_total=counts["open_total"],
        due_next_7_days=counts["due_next_7_days"],
        overdue=counts[OVERDUE],
        closed_90_days=len(closed),
        on_time_rate=on_time_rate,
        median_days_to_close=median,
        weekly=weekly,
        rights=rights,
        max_weekly=max_weekly,
        appeals=appeal_figures(today=today),
    )


def _state_q(state: str, today: dt.date) -> Q:
    if state == PAUSED:
        return Q(status__in=OPEN_STATUSES, paused_since__isnull=False)
    low, high = sla_bounds(state, today)
    q = Q(status__in=OPEN_STATUSES, paused_since__isnull=True)
    if low is not None:
        q &= Q(due_date__gte=low)
    if high is not None:
        q &= Q(due_date__lte=high)
    return q


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _weekly_by_right(today: dt.date, weeks: int) -> tuple[list[dict[str, Any]], list[str], int]:
    first = _week_start(today) - dt.timedelta(weeks=weeks - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    received: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    closed: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lines = RequestLine.objects.filter(Q(request__received_at__gte=start) | Q(request__closed_at__gte=start))
    rows = lines.values_list("right__slug", "request__received_at", "request__closed_at").order_by()
    seen_rights: set[str] = set()
    for right, received_at, closed_at in rows:
        seen_rights.add(right)
        if received_at >= start:
            received[_week_start(timezone.localdate(received_at))][right] += 1
        if closed_at is not None and closed_at >= start:
            closed[_week_start(timezone.localdate(closed_at))][right] += 1
    rights = list(
        Right.objects.filter(slug__in=seen_rights).order_by("display_order", "slug").values_list("slug", flat=True)
    )
    result = []
    max_weekly = 0
    for index in range(weeks):
        week = first + dt.timedelta(weeks=index)
        r = dict(received[week])
        c = dict(closed[week])
        max_weekly = max(max_weekly, sum(r.values()), sum(c.values()))
        result.append(
            {
                "week": week,
                "received": r,
                "closed": c,
                "received_total": sum(r.values()),
                "closed_total": sum(c.values()),
            }
        )
    return result, rights, max_weekly


REQUEST_LOG_HEADER = ["reference", "regime", "rights", "received", "due", "closed", "outcome", "handler"]


def request_log_rows(queryset: QuerySet[RightsRequest] | None = None) -> Iterator[list[str]]:
    """The audit log of requests: one row per request, streamed in chunks."""
    queryset = RightsRequest.objects.all() if queryset is None else queryset
    queryset = (
        queryset.select_related("regime", "assignee").prefetch_related("lines__right").order_by("received_at", "id")
    )
    for request in queryset.iterator(chunk_size=1000):
        yield [
            request.reference,
            request.regime.code,
            " ".join(line.right.slug for line in request.lines.all()),
            timezone.localtime(request.received_at).date().isoformat(),
            request.due_date.isoformat() if request.due_date else "",
            timezone.localtime(request.closed_at).date().isoformat() if request.closed_at else "",
            request.outcome,
            request.assignee.get_username() if request.assignee else "",
        ]


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # "event", "communication" or "note"
    title: str
    detail: str
    actor: str
    obj: Any


def request_timeline(request: RightsRequest) -> list[TimelineEntry]:
    """Events, letters and notes of a request, oldest first."""
    entries: list[TimelineEntry] = []
    for event in request.events.select_related("actor", "api_client", "line__right", "appeal"):
        title = event.get_type_display()
        if event.line_id:
            title += f": {event.line.right.name}"
        who = event.actor or event.api_client or "system"
        entries.append(TimelineEntry(event.at, "event", title, event.reason, str(who), event))
    for letter in request.communications.select_related("sent_by"):
        entries.append(
            TimelineEntry(
                letter.sent_at,
                "communication",
                f"Letter sent: {letter.get_template_display()}" + (" (edited)" if letter.edited else ""),
                letter.body,
                str(letter.sent_by or "system"),
                letter,
            )
        )
    for note in request.notes.select_related("author"):
        entries.append(TimelineEntry(note.created_at, "note", "Note", note.body, str(note.author or "system"), note))
    entries.sort(key=lambda entry: (entry.at, {"event": 0, "communication": 1, "note": 2}[entry.kind]))
    return entries


def rights_request_has_duplicate_of_client(*, request: RightsRequest, client: ApiClient | None) -> bool:
    """Whether ``request`` was flagged as a possible duplicate because of an open request ``client`` itself sent.

    The stored flag (``possible_duplicate_of``) looks at every request, whoever logged it; staff see it as
    it is. An API client is only told about its own requests: otherwise posting an address would reveal
    whether anyone else had an open request for it.
    """
    if request.possible_duplicate_of_id is None or client is None:
        return False
    return RightsRequest.objects.filter(
        api_client=client,
        requester_email=request.requester_email,
        status__in=OPEN_STATUSES,
        lines__right__in=[line.right_id for line in request.lines.all()],
        pk__lt=request.pk,
    ).exists()


HANDLER_PERMISSIONS = ("add_rightsrequest", "change_rightsrequest")


def request_handlers() -> QuerySet[Any]:
    """Active staff who may handle rights requests (log or decide them): the people a request can be assigned to.

    Auditors (view only) and staff without a rights-request role are left out.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    permissions = Permission.objects.filter(content_type__app_label="requests_app", codename__in=HANDLER_PERMISSIONS)
    may_handle = Q(is_superuser=True) | Q(user_permissions__in=permissions) | Q(groups__permissions__in=permissions)
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    return users.filter(pk__in=users.filter(may_handle).values("pk")).order_by("first_name", "last_name", "username")


def user_may_handle_requests(user: User) -> bool:
    """Whether ``user`` is one of :func:`request_handlers` (checked again by the assigning service)."""
    return bool(
        user.is_active
        and user.is_staff
        and any(user.has_perm(f"requests_app.{codename}") for codename in HANDLER_PERMISSIONS)
    )


# ------------------------------------------------------------------------------
# Identifiers fulfilment may act on (identity binds identifiers)
# ------------------------------------------------------------------------------

ACCOUNT_NONE = "none"
ACCOUNT_SAME_EMAIL = "same_email"
ACCOUNT_VERIFIED = "verified"
ACCOUNT_OTHER_EMAIL = "other_email"
ACCOUNT_NOT_FOUND = "not_found"
ACCOUNT_FAILED = "failed"

_ACCOUNT_LEFT_OUT = {
    ACCOUNT_OTHER_EMAIL: "the account's email is not the requester's, and the account's own verification is not "
    "recorded",
    ACCOUNT_NOT_FOUND: "no system of record could match it to an account with the requester's email, and the "
    "account's own verification is not recorded",
    ACCOUNT_FAILED: "the account's own verification was recorded as failed",
}


@dataclass(frozen=True)
class RequestIdentifiers:
    """Whom fulfilment may look for: only identifiers a verification covered.

    ``email`` is the requester's address once their identity is confirmed.
    ``account_ref`` is the account reference when the account's email is the
    requester's (the identity verification covers it) or when its own verification
    is recorded; otherwise ``None``, and ``account_status`` says why.
    """

    email: str | None
    account_ref: str | None
    account_status: str

    @property
    def warning(self) -> str:
        """For staff: why the request's account reference is left out (empty when it is not)."""
        reason = _ACCOUNT_LEFT_OUT.get(self.account_status)
        if reason is None:
            return ""
        return (
            f"The account reference is left out of locate, export and erasure: {reason}. Only the requester's "
            "email is used until the account holder's verification is recorded."
        )

    @property
    def summary(self) -> str:
        """Which identifiers were used and why, as a locate step records it (no identifier values)."""
        parts = ["requester's email (identity verified)" if self.email else "requester's email not verified"]
        if self.account_status == ACCOUNT_SAME_EMAIL:
            parts.append("account reference (its email is the requester's)")
        elif self.account_status == ACCOUNT_VERIFIED:
            parts.append("account reference (its own verification recorded)")
        elif self.account_status != ACCOUNT_NONE:
            parts.append(f"account reference left out ({_ACCOUNT_LEFT_OUT[self.account_status]})")
        return "; ".join(parts)


def _account_emails(account_ref: str) -> set[str]:
    """Every email the account has in the systems of record that can tell (empty: none could)."""
    from compliance.connectors import ConnectorError, get_connector
    from compliance.models import SystemOfRecord

    found: set[str] = set()
    for system in SystemOfRecord.objects.filter(is_active=True).order_by("pk"):
        try:
            emails = get_connector(system).account_emails(account_ref)
        except (ConnectorError, ConnectionDoesNotExist) as exc:  # unusable: this system cannot vouch for the account
            logger.warning("account check: system %s unavailable (%s)", system.pk, type(exc).__name__)
            continue
        found |= emails or set()
    return found


def request_identifiers(request: RightsRequest) -> RequestIdentifiers:
    """The identifiers of ``request`` that fulfilment may act on, checked now against the systems of record.

    An account reference counts only if its own verification is recorded, or if
    every account it names has the requester's (verified) email; a reference
    pointing at someone else's account is never silently added to the search.
    Used by fulfilment for every locate, export, erasure, restriction and notice,
    and by the request's page for its warning.
    """
    email = request.requester_email if request.identity_confirmed and request.requester_email else None
    account_ref = (request.account_ref or "").strip()
    if not account_ref:
        return RequestIdentifiers(email=email, account_ref=None, account_status=ACCOUNT_NONE)
    if request.account_identity_ref == account_ref:
        if request.account_identity_outcome == IdentityOutcome.VERIFIED:
            return RequestIdentifiers(email=email, account_ref=account_ref, account_status=ACCOUNT_VERIFIED)
        if request.account_identity_outcome == IdentityOutcome.FAILED:
            return RequestIdentifiers(email=email, account_ref=None, account_status=ACCOUNT_FAILED)
    emails = _account_emails(account_ref)
    if not emails:
        status = ACCOUNT_NOT_FOUND
    elif emails == {request.requester_email.strip().lower()}:
        status = ACCOUNT_SAME_EMAIL
    else:
        status = ACCOUNT_OTHER_EMAIL
    covered = status == ACCOUNT_SAME_EMAIL and email is not None
    return RequestIdentifiers(email=email, account_ref=account_ref if covered else None, account_status=status)
