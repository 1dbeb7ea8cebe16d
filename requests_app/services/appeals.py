"""Appeals of refusals (REGULATIONS §1b): logging, extending, assigning and deciding them.

Virginia, Colorado, Connecticut, Texas and most newer US state laws let a consumer
appeal a refusal; the controller answers in writing within the state's appeal
period with its reasons and, where the refusal stands, how to complain to the
Attorney General. Which regimes give an appeal, and how long each allows, are regime
rows (``appeal_period``, ``appeal_extension_period``); the complaint route is the
row's authority. Every step records an event in the request's ledger (linked to the
appeal) and sends the requester its letter; the appeal's dates are recomputed from
those events by ``requests_app.deadlines.compute_appeal_deadlines``.

Support agents and compliance officers log appeals; only officers
(``requests_app.decide_request``) extend and decide them. ``actor=None`` is an
integration (with ``api_client``) or the system.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from compliance.history import set_history_actor
from requests_app.deadlines import AppealDeadlines, AppealRule, LedgerEntry, compute_appeal_deadlines, receipt_day
from requests_app.models import (
    OPEN_APPEAL_STATUSES,
    ApiClient,
    Appeal,
    AppealOutcome,
    AppealStatus,
    Channel,
    Communication,
    EventType,
    LetterTemplate,
    Outcome,
    RequestLine,
    RequestStatus,
    RightsRequest,
)
from requests_app.selectors import user_may_handle_requests
from requests_app.services.communications import communication_send_for_appeal
from requests_app.services.requests import (
    _FUTURE_TOLERANCE,
    DECIDE_PERMISSION,
    _as_datetime,
    _local_day,
    _lock,
    _names,
    _record_event,
    _require,
    request_governing_regimes,
    rights_request_recompute,
)

APPEALABLE_OUTCOMES = [Outcome.REFUSED, Outcome.PARTIALLY_FULFILLED]
ANSWERED_STATUSES = [RequestStatus.RESPONDED, RequestStatus.CLOSED]


# ------------------------------------------------------------------------------
# Which regimes give an appeal, and the appeal's dates
# ------------------------------------------------------------------------------


def appeal_regimes_for(request: RightsRequest, lines: Sequence[RequestLine]) -> list[Any]:
    """The governing regimes that grant one of ``lines``' rights and give an appeal, primary first."""
    granting = {regime.pk for line in lines for regime in line.regimes.all()}
    return [regime for regime in request_governing_regimes(request) if regime.pk in granting and regime.appeal_period]


def appeal_deadlines(*, appeal: Appeal, extra: Sequence[LedgerEntry] = ()) -> AppealDeadlines:
    """The appeal's dates from its regimes' appeal rules and its events (plus ``extra``, for previews)."""
    regimes = sorted(appeal.regimes.all(), key=lambda regime: (regime.pk != appeal.request.regime_id, regime.pk))
    rules = {regime.code: rule for regime in regimes if (rule := AppealRule.from_regime(regime)) is not None}
    zones = [settings.TIME_ZONE, *(regime.time_zone for regime in regimes if regime.time_zone)]
    ledger = [LedgerEntry(event.type, _local_day(event.at)) for event in appeal.events.all()]
    ledger.extend(extra)
    return compute_appeal_deadlines(rules=rules, received_on=receipt_day(appeal.received_at, zones), ledger=ledger)


def appeal_recompute(*, appeal: Appeal) -> AppealDeadlines:
    """Store the appeal's dates computed from its events. Called by every step that adds one."""
    deadlines = appeal_deadlines(appeal=appeal)
    values = {
        "due_date": deadlines.due_date,
        "target_date": deadlines.target_date,
        "is_extended": deadlines.is_extended,
    }
    changed = [name for name, value in values.items() if getattr(appeal, name) != value]
    if changed:
        for name in changed:
            setattr(appeal, name, values[name])
        appeal.save(update_fields=[*changed, "updated_at"])
    return deadlines


def _lock_appeal(appeal: Appeal) -> tuple[RightsRequest, Appeal]:
    request = _lock(appeal.request)
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    appeal.request = request
    return request, appeal


def _resolve_lines(
    candidates: Sequence[RequestLine], wanted: Sequence[RequestLine | str], field: str, errors: dict[str, list[str]]
) -> list[RequestLine]:
    """``wanted`` (lines or right slugs) among ``candidates``; an unknown one is an error on ``field``."""
    by_slug = {line.right.slug: line for line in candidates}
    by_pk = {line.pk: line for line in candidates}
    chosen: list[RequestLine] = []
    unknown: list[str] = []
    for item in wanted:
        line = by_pk.get(item.pk) if isinstance(item, RequestLine) else by_slug.get(str(item))
        if line is None:
            unknown.append(item.right.slug if isinstance(item, RequestLine) else str(item))
        elif line not in chosen:
            chosen.append(line)
    if unknown:
        errors.setdefault(field, []).append("Not a line of this appeal: " + ", ".join(sorted(set(unknown))) + ".")
    return chosen


# ------------------------------------------------------------------------------
# Logging an appeal
# ------------------------------------------------------------------------------


def appeal_open_check(
    *,
    request: RightsRequest,
    lines: Sequence[RequestLine | str] = (),
    received_at: dt.datetime | None = None,
    channel: str = Channel.EMAIL,
) -> tuple[list[RequestLine], list[Any]]:
    """Raise the per-field ``ValidationError`` logging this appeal would raise, writing nothing.

    Returns the appealed lines and the regimes whose appeal rules apply.
    """
    errors: dict[str, list[str]] = {}
    all_lines = list(request.lines.select_related("right").prefetch_related("regimes"))
    if request.status not in ANSWERED_STATUSES:
        errors["__all__"] = ["Only an answered request can be appealed; this one has not been answered yet."]
    elif request.appeals.filter(status__in=OPEN_APPEAL_STATUSES).exists():
        errors["__all__"] = ["An appeal of this request is already open: add to it instead."]
    if channel not in Channel.values:
        errors["channel"] = [f"Unknown channel {channel!r}."]
    when = received_at or timezone.now()
    if when > timezone.now() + _FUTURE_TOLERANCE:
        errors["received_at"] = ["The appeal cannot be received in the future."]
    elif request.responded_at is not None and _local_day(when) < _local_day(request.responded_at):
        errors["received_at"] = ["The appeal cannot be received before the answer it appeals was sent."]

    completed = [line for line in all_lines if line.status == RequestLine.Status.COMPLETED]
    refused = [line for line in completed if line.outcome in APPEALABLE_OUTCOMES]
    chosen = refused if not lines else _resolve_lines(all_lines, lines, "lines", errors)
    not_refused = [line.right.slug for line in chosen if line not in refused]
    if not_refused:
        errors.setdefault("lines", []).append(
            "Only a refused or partly fulfilled line can be appealed: " + ", ".join(not_refused) + "."
        )
    appealed = [line.right.slug for line in chosen if line in refused and _already_appealed(line)]
    if appealed:
        errors.setdefault("lines", []).append("Already appealed: " + ", ".join(appealed) + ".")
    if not chosen and "__all__" not in errors and "lines" not in errors:
        errors["lines"] = ["Nothing in the answer was refused: there is nothing to appeal."]
    regimes = appeal_regimes_for(request, chosen) if chosen else []
    if chosen and not regimes and "lines" not in errors:
        errors.setdefault("__all__", []).append(
            "No law governing these lines gives an appeal (REGULATIONS §1b: US state laws such as Virginia's); "
            "answer the message as a new request or a complaint."
        )
    if errors:
        raise ValidationError(errors)
    return chosen, regimes


def _already_appealed(line: RequestLine) -> bool:
    """An open appeal has the line, or an appeal was decided since the line was last completed."""
    return line.appeals.filter(Q(status__in=OPEN_APPEAL_STATUSES) | Q(decided_at__gte=line.completed_at)).exists()


@transaction.atomic
def appeal_open(
    *,
    request: RightsRequest,
    actor: User | None,
    lines: Sequence[RequestLine | str] = (),
    received_at: dt.datetime | None = None,
    channel: str = Channel.EMAIL,
    statement: str = "",
    assignee: User | None = None,
    api_client: ApiClient | None = None,
) -> Appeal:
    """Log a requester's appeal of a refusal, and send them the "appeal received" letter.

    ``lines`` are the refused or partly fulfilled lines (or their right slugs) the
    requester disagrees with; all of them when empty. Refused, per field: a request not
    yet answered, an appeal already open, a line that was fulfilled or already appealed,
    lines no governing regime gives an appeal for, a date in the future or before the
    answer. The appeal is due by the earliest date the applicable regimes' appeal
    periods give; it is assigned to the request's handler unless ``assignee`` is given.
    """
    _require(actor, "requests_app.add_appeal", "You cannot log appeals.")
    request = _lock(request)
    when = _as_datetime(received_at) if received_at is not None else timezone.now()
    chosen, regimes = appeal_open_check(request=request, lines=lines, received_at=when, channel=channel)
    if assignee is not None and not user_may_handle_requests(assignee):
        raise ValidationError({"assignee": [f"{assignee.get_username()} cannot handle rights requests."]})
    appeal = Appeal(
        request=request,
        channel=channel,
        received_at=when,
        statement=(statement or "").strip(),
        assignee=assignee or request.assignee,
        api_client=api_client,
        created_by=actor,
    )
    set_history_actor(appeal, actor)
    appeal.save()
    appeal.lines.set(chosen)
    appeal.regimes.set(regimes)
    event = _record_event(
        request=request, type=EventType.APPEAL_RECEIVED, at=when, actor=actor, api_client=api_client, appeal=appeal
    )
    appeal_recompute(appeal=appeal)
    communication_send_for_appeal(
        appeal=appeal, template=LetterTemplate.APPEAL_RECEIVED, event=event, actor=actor, at=timezone.now()
    )
    return appeal


# ------------------------------------------------------------------------------
# Steps on an open appeal
# ------------------------------------------------------------------------------


@transaction.atomic
def appeal_assign(*, appeal: Appeal, assignee: User | None, actor: User | None) -> Appeal:
    """Give the appeal to a handler (or nobody)."""
    _require(actor, "requests_app.change_appeal", "You cannot assign appeals.")
    _request, appeal = _lock_appeal(appeal)
    if assignee is not None and not user_may_handle_requests(assignee):
        raise ValidationError({"assignee": [f"{assignee.get_username()} cannot handle rights requests."]})
    if appeal.assignee_id != (assignee.pk if assignee else None):
        appeal.assignee = assignee
        set_history_actor(appeal, actor)
        appeal.save(update_fields=["assignee", "updated_at"])
    return appeal


@transaction.atomic
def appeal_extend(
    *, appeal: Appeal, reason: str, actor: User | None, at: dt.datetime | dt.date | None = None
) -> Appeal:
    """Extend the time to answer the appeal where its regimes allow, telling the requester why.

    Once, notified on or before the appeal's due date, with a reason (Colorado: 45 days
    + 60 with notice and reasons); the date moves only as far as every applicable
    regime allows, so an appeal under Oregon's law (no extension) is refused.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers extend an appeal.")
    request, appeal = _lock_appeal(appeal)
    when = _as_datetime(at) if at is not None else timezone.now()
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["Give the reason for the extension: the requester is told it."]
    if not appeal.is_open:
        errors["__all__"] = ["The appeal has been decided."]
    elif appeal.events.filter(type=EventType.APPEAL_EXTENSION_NOTIFIED).exists():
        errors["__all__"] = ["The appeal has already been extended."]
    elif when > timezone.now() + _FUTURE_TOLERANCE or _local_day(when) < _local_day(appeal.received_at):
        errors["at"] = ["The notice cannot be in the future or before the appeal was received."]
    else:
        current = appeal_deadlines(appeal=appeal)
        on = _local_day(when)
        if on > current.due_date:
            due = date_format(current.due_date)
            errors["at"] = [f"An extension must be notified on or before the due date ({due})."]
        else:
            preview = appeal_deadlines(appeal=appeal, extra=[LedgerEntry(EventType.APPEAL_EXTENSION_NOTIFIED, on)])
            if preview.due_date == current.due_date:
                fixed = [r for r in appeal.regimes.all() if not r.appeal_extension_period]
                verb = "allows" if len(fixed) == 1 else "allow"
                errors["__all__"] = [f"{_names(fixed)} {verb} no extension of an appeal."]
    if errors:
        raise ValidationError(errors)
    event = _record_event(
        request=request, type=EventType.APPEAL_EXTENSION_NOTIFIED, at=when, actor=actor, reason=reason, appeal=appeal
    )
    if appeal.status == AppealStatus.RECEIVED:
        appeal.status = AppealStatus.IN_PROGRESS
        set_history_actor(appeal, actor)
        appeal.save(update_fields=["status", "updated_at"])
    appeal_recompute(appeal=appeal)
    communication_send_for_appeal(
        appeal=appeal,
        template=LetterTemplate.APPEAL_EXTENSION_NOTICE,
        event=event,
        actor=actor,
        at=when,
        context={"reason": reason},
    )
    return appeal


def appeal_decide_check(
    *, appeal: Appeal, outcome: str, reason: str, reversed_lines: Sequence[RequestLine | str] = ()
) -> list[RequestLine]:
    """Raise the per-field ``ValidationError`` deciding this way would raise; returns the lines to reopen."""
    errors: dict[str, list[str]] = {}
    appealed = list(appeal.lines.select_related("right").order_by("right__display_order"))
    if outcome not in AppealOutcome.values:
        errors["outcome"] = ["Choose the outcome: upheld, reversed or partly reversed."]
    if not (reason or "").strip():
        errors["outcome_reason"] = [
            "Give the reasons: the requester is told them (and, where the refusal stands, how to complain)."
        ]
    if not appeal.is_open:
        errors["__all__"] = ["The appeal has already been decided."]
    chosen = _resolve_lines(appealed, reversed_lines, "reversed_lines", errors)
    if outcome == AppealOutcome.UPHELD and chosen:
        errors.setdefault("reversed_lines", []).append("An upheld refusal reopens no line.")
    elif outcome == AppealOutcome.REVERSED:
        if chosen and len(chosen) != len(appealed):
            errors.setdefault("reversed_lines", []).append(
                "Reversed reopens every appealed line; choose partly reversed to reopen some."
            )
        chosen = appealed
    elif outcome == AppealOutcome.PARTLY_REVERSED:
        if not chosen:
            errors.setdefault("reversed_lines", []).append("Choose the lines whose refusal is reversed.")
        elif len(chosen) == len(appealed):
            errors.setdefault("reversed_lines", []).append("Every appealed line is reversed: choose reversed.")
    if errors:
        raise ValidationError(errors)
    return chosen


@transaction.atomic
def appeal_decide(
    *,
    appeal: Appeal,
    outcome: str,
    reason: str,
    actor: User | None,
    reversed_lines: Sequence[RequestLine | str] = (),
    at: dt.datetime | None = None,
) -> Appeal:
    """Answer the appeal in writing: the outcome, the reasons and, where a refusal stands, the complaint route.

    ``reversed`` reopens every appealed line, ``partly_reversed`` the ``reversed_lines``
    given (lines or right slugs); each reopened line gets a ``line_reopened`` event and
    its own new due date (its regimes' response period again, from the decision day),
    and the request is open again until those lines are answered. Records whether the
    answer went out by the appeal's due date.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers decide appeals.")
    request, appeal = _lock_appeal(appeal)
    reason = (reason or "").strip()
    chosen = appeal_decide_check(appeal=appeal, outcome=outcome, reason=reason, reversed_lines=reversed_lines)
    when = at or timezone.now()
    if when > timezone.now() + _FUTURE_TOLERANCE or _local_day(when) < _local_day(appeal.received_at):
        raise ValidationError({"at": ["The decision cannot be in the future or before the appeal was received."]})
    appeal.status = AppealStatus.DECIDED
    appeal.outcome = outcome
    appeal.outcome_reason = reason
    appeal.decided_at = when
    appeal.decided_by = actor
    appeal.decided_on_time = appeal.due_date is None or _local_day(when) <= appeal.due_date
    set_history_actor(appeal, actor)
    appeal.save()
    appeal.reversed_lines.set(chosen)
    event = _record_event(
        request=request, type=EventType.APPEAL_DECIDED, at=when, actor=actor, reason=reason, appeal=appeal
    )
    for line in chosen:
        _line_reopen(request=request, line=line, appeal=appeal, actor=actor, at=when)
    if chosen:
        request.status = RequestStatus.IN_PROGRESS
        request.closed_at = None
        request.outcome = ""
        request.closed_on_time = None
        request.responded_at = None  # the reopened lines get their own answer, on time or not
        set_history_actor(request, actor)
        request.save(update_fields=["status", "closed_at", "outcome", "closed_on_time", "responded_at", "updated_at"])
        rights_request_recompute(request=request)
    communication_send_for_appeal(
        appeal=appeal, template=LetterTemplate.APPEAL_DECISION, event=event, actor=actor, at=when
    )
    return appeal


class _PreviewDone(Exception):
    """Carries the previewed letter out of the transaction it rolls back."""

    def __init__(self, subject: str, body: str) -> None:
        super().__init__("preview")
        self.subject, self.body = subject, body


def appeal_decide_preview(
    *,
    appeal: Appeal,
    outcome: str,
    reason: str,
    actor: User | None,
    reversed_lines: Sequence[RequestLine | str] = (),
) -> tuple[str, str]:
    """The decision letter exactly as ``appeal_decide`` would send it (subject, body), writing nothing.

    The decision is taken inside a transaction that is then rolled back: the letter is the one the real
    decision renders (reopened lines, their new due dates, the complaint routes), and nothing of it stays,
    no job or email included (those leave only on commit). Raises what ``appeal_decide`` would raise.
    """
    try:
        with transaction.atomic():
            decided = appeal_decide(
                appeal=Appeal.objects.get(pk=appeal.pk),
                outcome=outcome,
                reason=reason,
                actor=actor,
                reversed_lines=reversed_lines,
            )
            letter = Communication.objects.filter(appeal=decided, template=LetterTemplate.APPEAL_DECISION).latest("pk")
            raise _PreviewDone(letter.subject, letter.body)
    except _PreviewDone as done:
        return done.subject, done.body


def _line_reopen(
    *, request: RightsRequest, line: RequestLine, appeal: Appeal, actor: User | None, at: dt.datetime
) -> None:
    """Reopen a line whose refusal the appeal reversed; its refusal stays in its history and the ledger."""
    line = RequestLine.objects.select_for_update().get(pk=line.pk)
    line.status = RequestLine.Status.OPEN
    line.outcome = ""
    line.outcome_reason = ""
    line.refusal_ground = ""
    line.evidence_note = ""
    line.completed_at = None
    line.completed_by = None
    set_history_actor(line, actor)
    line.save()
    _record_event(
        request=request,
        type=EventType.LINE_REOPENED,
        at=at,
        actor=actor,
        reason="Refusal reversed on appeal.",
        line=line,
        appeal=appeal,
    )
