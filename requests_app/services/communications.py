"""Letters and emails to requesters, rendered from templates and stored exactly as sent.

Sending a letter records the event it stands for (an acknowledgement letter is
the ``acknowledged`` event, an extension notice the ``extension_notified`` one,
a completion or refusal letter the response), so the ledger and the deadlines
follow from what was actually sent. The email itself goes out from a worker,
after the transaction commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from jobs.services import job_enqueue
from requests_app.deadlines import Deadlines, LedgerEntry
from requests_app.models import (
    APPEAL_LETTERS,
    Appeal,
    Communication,
    EventType,
    LetterTemplate,
    Outcome,
    RequestEvent,
    RequestLine,
    RightsRequest,
)
from requests_app.services.requests import (
    DECIDE_PERMISSION,
    _lock,
    _names,
    _require,
    _save,
    request_event_add,
    request_governing_regimes,
    request_responded_record,
    rights_request_deadlines,
)

TEMPLATE_EVENT = {
    LetterTemplate.ACKNOWLEDGEMENT: EventType.ACKNOWLEDGED,
    LetterTemplate.IDENTITY_REQUEST: EventType.IDENTITY_REQUESTED,
    LetterTemplate.CLARIFICATION_REQUEST: EventType.CLARIFICATION_REQUESTED,
    LetterTemplate.EXTENSION_NOTICE: EventType.EXTENSION_NOTIFIED,
    LetterTemplate.COMPLETION: EventType.RESPONDED,
    LetterTemplate.PARTIAL_OR_REFUSAL: EventType.RESPONDED,
}
# Letters that carry a decision only compliance officers take.
DECISION_TEMPLATES = {
    LetterTemplate.EXTENSION_NOTICE,
    LetterTemplate.COMPLETION,
    LetterTemplate.PARTIAL_OR_REFUSAL,
}


def _check_template(template: str) -> None:
    if template not in LetterTemplate.values:
        raise ValidationError({"template": [f"Unknown letter {template!r}."]})


def _check_not_appeal_letter(template: str) -> None:
    if template in APPEAL_LETTERS:
        raise ValidationError({"template": ["Appeal letters are sent by the appeal's steps (log, extend, decide)."]})


def communication_render(
    *,
    request: RightsRequest,
    template: str,
    context: dict[str, Any] | None = None,
    deadlines: Deadlines | None = None,
) -> tuple[str, str]:
    """The subject and body of a letter for ``request``, from ``templates/requests_app/letters/``.

    ``context`` adds to what the templates get: ``reason`` (extension, clarification
    question), ``kept`` (a list of ``{"what", "why"}`` for data kept despite an
    erasure), ``identity_information`` (what is asked for).
    """
    _check_template(template)
    deadlines = deadlines or rights_request_deadlines(request=request)
    lines = list(request.lines.select_related("right").order_by("right__display_order"))
    regime = request.regime
    regimes = request_governing_regimes(request)
    shortfall_lines = [line for line in lines if line.outcome and line.outcome != Outcome.FULFILLED]
    ctx = {
        "request": request,
        "lines": lines,
        "shortfall_lines": shortfall_lines,
        "fulfilled_lines": [line for line in lines if line.outcome == Outcome.FULFILLED],
        "regime": regime,
        "regimes": regimes,
        "regimes_cited": _cited(regimes, deadlines, lines),
        "complaint_routes": _complaint_routes(regimes, shortfall_lines),
        "appeal_routes": _appeal_routes(regimes, shortfall_lines),
        "appeal_by": timezone.localdate() + dt.timedelta(days=settings.APPEAL_INVITED_WITHIN_DAYS),
        "promises_restart": _promises(regimes, request, "identity_starts_clock", lines),
        "promises_pause": _promises(regimes, request, "clarification_pauses_clock", lines),
        "deadlines": deadlines,
        "due_date": deadlines.due_date,
        "general_due": deadlines.general_due,
        "acknowledge_by": deadlines.acknowledge_by,
        "site_name": settings.SITE_NAME,
        "contact_email": settings.PRIVACY_CONTACT_EMAIL,
        "authority": regime.supervisory_authority,
        "authority_url": regime.supervisory_authority_url,
        "today": timezone.localdate(),
        "reason": "",
        "kept": [],
        **(context or {}),
    }
    subject = render_to_string(f"requests_app/letters/{template}_subject.txt", ctx)
    body = render_to_string(f"requests_app/letters/{template}.txt", ctx)
    return " ".join(subject.split()), body.strip() + "\n"


def _cited(regimes: list, deadlines: Deadlines, lines: list) -> str:
    """The regimes that govern the answer: those granting the request's rights, primary first."""
    codes = {code for line in lines for code in deadlines.line_regimes.get(line.right.slug, ())}
    names = [regime.name for regime in regimes if regime.code in codes] or [regimes[0].name]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _complaint_routes(regimes: list, shortfall_lines: list) -> list[dict[str, str]]:
    """Each governing regime's complaint route, for the regimes granting a right we fell short on."""
    granting = {regime.pk for line in shortfall_lines for regime in line.regimes.all()}
    chosen = [regime for regime in regimes if regime.pk in granting] or regimes[:1]
    return [
        {"regime": regime.name, "authority": regime.supervisory_authority, "url": regime.supervisory_authority_url}
        for regime in chosen
        if regime.supervisory_authority
    ]


def _appeal_routes(regimes: list, shortfall_lines: list) -> list[dict[str, Any]]:
    """The governing regimes that give an appeal of a right we fell short on, with how long each gives us
    to answer it (REGULATIONS §1b): a refusal letter must say how to appeal."""
    granting = {regime.pk for line in shortfall_lines for regime in line.regimes.all()}
    return [
        {"regime": regime.name, "period": regime.appeal_period, "extension": regime.appeal_extension_period}
        for regime in regimes
        if regime.pk in granting and regime.appeal_period
    ]


def _promises(regimes: list, request: RightsRequest, rule: str, lines: list) -> bool:
    """Whether a letter may promise a restart (identity) or a pause (clarification).

    Only where a governing regime has the rule and it applies to this request's receipt date (UK GDPR:
    from 5 Feb 2026); a pause only for a line whose right the regime pauses (access).
    """
    received_on = timezone.localdate(request.received_at)
    for regime in regimes:
        if not getattr(regime, rule) or (regime.clock_rules_from and received_on < regime.clock_rules_from):
            continue
        if rule != "clarification_pauses_clock":
            return True
        paused = set(regime.regime_rights.filter(clarification_pauses_clock=True).values_list("right_id", flat=True))
        if any(line.right_id in paused for line in lines):
            return True
    return False


def communication_preview(
    *, request: RightsRequest, template: str, reason: str = "", context: dict[str, Any] | None = None
) -> tuple[str, str]:
    """The letter as it would be sent now, with the dates the event it records would give."""
    _check_template(template)
    _check_not_appeal_letter(template)
    event_type = TEMPLATE_EVENT[template]
    extra = [LedgerEntry(event_type, timezone.localdate())]
    deadlines = rights_request_deadlines(request=request, extra=extra)
    return communication_render(
        request=request, template=template, context={"reason": reason, **(context or {})}, deadlines=deadlines
    )


def _check_response(request: RightsRequest, template: str) -> None:
    lines = list(request.lines.all())
    if any(line.status != RequestLine.Status.COMPLETED for line in lines):
        raise ValidationError({"template": ["Complete every line before sending the response."]})
    all_fulfilled = all(line.outcome == Outcome.FULFILLED for line in lines)
    if template == LetterTemplate.COMPLETION and not all_fulfilled:
        raise ValidationError(
            {"template": ["Not every line was fulfilled: send the partial fulfilment or refusal letter."]}
        )
    if template == LetterTemplate.PARTIAL_OR_REFUSAL and all_fulfilled:
        raise ValidationError({"template": ["Every line was fulfilled: send the completion letter."]})
    if not request.is_open:
        raise ValidationError({"template": ["The request has already been answered."]})


@transaction.atomic
def communication_send(
    *,
    request: RightsRequest,
    template: str,
    actor,
    context: dict[str, Any] | None = None,
    body_override: str | None = None,
    subject_override: str | None = None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Communication:
    """Record the letter's event, store the letter as sent, and email it after commit.

    ``body_override``/``subject_override`` are the text staff edited from the
    preview; otherwise the template is rendered with the dates the new event gives.
    Extension notices, completion and refusal letters are compliance officers'
    decisions; acknowledgement, identity and clarification letters anyone who may
    add communications can send.
    """
    _check_template(template)
    _check_not_appeal_letter(template)
    if template in DECISION_TEMPLATES:
        _require(actor, DECIDE_PERMISSION, "Only compliance officers can send this letter.")
    _require(actor, "requests_app.add_communication", "You cannot send letters.")
    request = _lock(request)
    when = at or timezone.now()
    event_type = TEMPLATE_EVENT[template]
    if event_type == EventType.RESPONDED:
        _check_response(request, template)
        event = request_responded_record(request=request, at=when, actor=actor)
    else:
        event = request_event_add(request=request, type=event_type, at=when, actor=actor, reason=reason)
    request.refresh_from_db()
    subject, body = communication_render(
        request=request, template=template, context={"reason": reason, **(context or {})}
    )
    edited = False
    if body_override is not None and body_override.strip():
        edited = body_override.strip() != body.strip()
        body = body_override.strip() + "\n"
    if subject_override is not None and subject_override.strip():
        edited = edited or subject_override.strip() != subject
        subject = subject_override.strip()
    communication = Communication(
        request=request,
        template=template,
        to_email=request.requester_email,
        subject=subject[:255],
        body=body,
        edited=edited,
        event=event,
        sent_by=actor,
        sent_at=when,
    )
    _save(communication, actor)

    # Through the outbox: a broker outage keeps the letter (and its event) saved and delivers it later.
    job_enqueue("requests_app.tasks.communication_deliver_task", communication.pk)
    return communication


def communication_send_for_appeal(
    *,
    appeal: Appeal,
    template: str,
    event: RequestEvent,
    actor,
    at: dt.datetime,
    context: dict[str, Any] | None = None,
) -> Communication:
    """Store an appeal's letter (received, extension notice, decision) and email it after commit.

    Called by the appeal services inside the step's transaction; the letter is
    rendered like every other letter, with the appeal, its lines and its dates.
    """
    if template not in APPEAL_LETTERS:
        raise ValidationError({"template": [f"{template!r} is not an appeal letter."]})
    request = appeal.request
    appealed = list(appeal.lines.select_related("right").prefetch_related("regimes").order_by("right__display_order"))
    reversed_ids = set(appeal.reversed_lines.values_list("pk", flat=True))
    reopened = [line for line in request.lines.select_related("right") if line.pk in reversed_ids]
    upheld = [line for line in appealed if line.pk not in reversed_ids]
    regimes = list(appeal.regimes.all())
    upheld_regimes = {regime.pk for line in upheld for regime in line.regimes.all()}
    subject, body = communication_render(
        request=request,
        template=template,
        context={
            "appeal": appeal,
            "appealed_lines": appealed,
            "reopened_lines": reopened,
            "upheld_lines": upheld,
            "appeal_regimes": _names(regimes),
            # Where the refusal stands: each applicable regime's complaint route (the Attorney General).
            "attorney_general_routes": [
                {"regime": r.name, "authority": r.supervisory_authority, "url": r.supervisory_authority_url}
                for r in regimes
                if r.pk in upheld_regimes and r.supervisory_authority
            ],
            **(context or {}),
        },
    )
    communication = Communication(
        request=request,
        appeal=appeal,
        template=template,
        to_email=request.requester_email,
        subject=subject[:255],
        body=body,
        event=event,
        sent_by=actor,
        sent_at=at,
    )
    _save(communication, actor)
    job_enqueue("requests_app.tasks.communication_deliver_task", communication.pk)
    return communication


def communication_deliver(*, communication_id: int) -> bool:
    """Email a stored letter to the requester once. Returns whether it sent it now.

    A redelivered task finds ``delivered_at`` set and sends nothing.
    """
    with transaction.atomic():
        communication = Communication.objects.select_for_update().filter(pk=communication_id).first()
        if communication is None or communication.delivered_at is not None:
            return False
        Communication.objects.filter(pk=communication_id).update(delivery_attempts=communication.delivery_attempts + 1)
    with transaction.atomic():
        communication = Communication.objects.select_for_update().get(pk=communication_id)
        if communication.delivered_at is not None:
            return False
        EmailMessage(
            subject=communication.subject,
            body=communication.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[communication.to_email],
            reply_to=[settings.PRIVACY_CONTACT_EMAIL],
        ).send()
        communication.delivered_at = timezone.now()
        communication.save(update_fields=["delivered_at"])
    return True
