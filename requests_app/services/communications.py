"""Letters and emails to requesters, rendered from templates and stored exactly as sent.

Sending a letter records the event it stands for (an acknowledgement letter is
the ``acknowledged`` event, an extension notice the ``extension_notified`` one,
a completion or refusal letter the response). The email itself goes out from a
worker, after the transaction commits, and an event that rests on a letter counts
for the deadlines only once that letter is delivered, from the day it was
delivered (``rights_request_deadlines``): a letter that never went out does not
acknowledge, extend or answer anything. A delivery that fails for good marks the
letter failed on the request and alerts its handler.
"""

from __future__ import annotations

import datetime as dt
import logging
from smtplib import SMTPRecipientsRefused, SMTPResponseException
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMessage
from django.db import transaction
from django.utils import timezone

from compliance.emails import email_render
from compliance.history import set_history_actor
from jobs.services import job_enqueue
from requests_app.deadlines import Deadlines, LedgerEntry
from requests_app.models import (
    APPEAL_LETTERS,
    Appeal,
    Communication,
    EventType,
    LetterTemplate,
    Outcome,
    RefusalGround,
    RequestEvent,
    RequestLine,
    RightsRequest,
)
from requests_app.services.requests import (
    DECIDE_PERMISSION,
    _lock,
    _names,
    _require,
    request_event_add,
    request_governing_regimes,
    request_responded_record,
    rights_request_deadlines,
    rights_request_recompute,
)
from requests_app.validators import clean_single_line

if TYPE_CHECKING:
    from compliance.models import Regime

logger = logging.getLogger(__name__)

TEMPLATE_EVENT: dict[str, str] = {
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


# The part of a letter only the sender can write: the letter cannot go (or be previewed) without it.
REQUIRED_REASON: dict[str, str] = {
    LetterTemplate.EXTENSION_NOTICE: "Give the reason for the extension: the letter tells the requester why.",
    LetterTemplate.CLARIFICATION_REQUEST: "Write the question to ask: the letter has nothing to ask without it.",
}
# A refusal ground as the requester reads it (the reason that follows says the rest).
GROUND_WORDS: dict[str, str] = {
    RefusalGround.MANIFESTLY_UNFOUNDED: "we consider this part of the request manifestly unfounded",
    RefusalGround.EXCESSIVE: "we consider this part of the request excessive",
    RefusalGround.IDENTITY_NOT_VERIFIED: "we could not confirm your identity",
    RefusalGround.LEGAL_OBLIGATION: "the law requires us to keep some of this data",
    RefusalGround.OTHER_EXEMPTION: "",
}


def _check_template(template: str) -> None:
    if template not in LetterTemplate.values:
        raise ValidationError({"template": [f"Unknown letter {template!r}."]})


def communication_check_required(*, template: str, reason: str) -> None:
    """Refuse a letter whose required part (an extension's reason, a clarification's question) is empty."""
    if template in REQUIRED_REASON and not (reason or "").strip():
        raise ValidationError({"reason": [REQUIRED_REASON[template]]})


def _same_text(a: str, b: str) -> bool:
    """Equal as the requester reads them: browsers send a textarea's lines with CRLF, and trailing spaces
    on a line are invisible."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n"))

    return norm(a) == norm(b)


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
    for line in lines:
        line.ground_words = GROUND_WORDS.get(line.refusal_ground, "")
    regime = request.regime
    regimes = request_governing_regimes(request)
    shortfall_lines = [line for line in lines if line.outcome and line.outcome != Outcome.FULFILLED]
    complaint_routes = _complaint_routes(regimes, shortfall_lines)
    ctx = {
        "request": request,
        "lines": lines,
        "shortfall_lines": shortfall_lines,
        "fulfilled_lines": [line for line in lines if line.outcome == Outcome.FULFILLED],
        "regime": regime,
        "regimes": regimes,
        "regimes_cited": _cited(regimes, deadlines, lines),
        "complaint_routes": complaint_routes,
        "courts_regimes": _courts(complaint_routes),
        "verification_processes": list(
            dict.fromkeys(r.verification_process for r in regimes if r.verification_process)
        ),
        "appeal_routes": _appeal_routes(regimes, shortfall_lines),
        "appeal_by": timezone.localdate() + dt.timedelta(days=settings.APPEAL_INVITED_WITHIN_DAYS),
        "promises_restart": _promises(regimes, request, "identity_starts_clock", lines),
        "promises_pause": _promises(regimes, request, "clarification_pauses_clock", lines),
        "deadlines": deadlines,
        "due_date": deadlines.due_date,
        "general_due": deadlines.general_due,
        "acknowledge_by": deadlines.acknowledge_by,
        "authority": regime.supervisory_authority,
        "authority_url": regime.supervisory_authority_url,
        "today": timezone.localdate(),
        "reason": "",
        "kept": [],
        **(context or {}),
    }
    subject, body = email_render(f"requests_app/letters/{template}", ctx)
    return subject, body.strip() + "\n"


def _cited(regimes: list[Any], deadlines: Deadlines, lines: list[Any]) -> str:
    """The regimes that govern the answer: those granting the request's rights, primary first."""
    codes = {code for line in lines for code in deadlines.line_regimes.get(line.right.slug, ())}
    names = [regime.name for regime in regimes if regime.code in codes] or [regimes[0].name]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def regime_complaint_route(regime: Regime) -> dict[str, Any]:
    """How a person complains under ``regime``, as letters and access answers give it: the authority (with
    ``note``, e.g. which of several), its address, the days the law gives to apply (Quebec: 30), and whether
    the law also gives a remedy in court (never promised where it does not). All regime data."""
    return {
        "regime": regime.name,
        "authority": regime.supervisory_authority,
        "url": regime.supervisory_authority_url,
        "note": regime.complaint_note,
        "within_days": regime.complaint_within_days,
        "courts": regime.courts_remedy,
    }


def _complaint_routes(regimes: list[Any], shortfall_lines: list[Any]) -> list[dict[str, Any]]:
    """Each governing regime's complaint route, for the regimes granting a right we fell short on, with the
    provision each refused line relies on where the regime names one for its ground (Quebec s.34)."""
    granting = {regime.pk for line in shortfall_lines for regime in line.regimes.all()}
    chosen = [regime for regime in regimes if regime.pk in granting] or regimes[:1]
    routes: list[dict[str, Any]] = []
    for regime in chosen:
        if not regime.supervisory_authority:
            continue
        route = regime_complaint_route(regime)
        provisions = regime.refusal_provisions or {}
        route["provisions"] = [
            {"right": line.right.name, "provision": provisions[line.refusal_ground]}
            for line in shortfall_lines
            if line.refusal_ground in provisions and regime in line.regimes.all()
        ]
        routes.append(route)
    return routes


def _courts(routes: list[dict[str, Any]]) -> str:
    """The regimes of ``routes`` that give a remedy in court, as a letter names them ("" when none does)."""
    names = [route["regime"] for route in routes if route["courts"]]
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _appeal_routes(regimes: list[Any], shortfall_lines: list[Any]) -> list[dict[str, Any]]:
    """The governing regimes that give an appeal of a right we fell short on, with how long each gives us
    to answer it (REGULATIONS §1b): a refusal letter must say how to appeal."""
    granting = {regime.pk for line in shortfall_lines for regime in line.regimes.all()}
    return [
        {"regime": regime.name, "period": regime.appeal_period, "extension": regime.appeal_extension_period}
        for regime in regimes
        if regime.pk in granting and regime.appeal_period
    ]


def _promises(regimes: list[Any], request: RightsRequest, rule: str, lines: list[Any]) -> bool:
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
    communication_check_required(template=template, reason=reason)
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
    actor: User | None,
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
    communication_check_required(template=template, reason=reason)
    _check_not_appeal_letter(template)
    if template in DECISION_TEMPLATES:
        _require(actor, DECIDE_PERMISSION, "Only compliance officers can send this letter.")
    _require(actor, "requests_app.add_communication", "You cannot send letters.")
    if subject_override is not None and subject_override.strip():
        try:
            subject_override = clean_single_line(subject_override, label="The subject")
        except ValidationError as error:
            raise ValidationError({"subject": error.messages}) from None
    request = _lock(request)
    when = at or timezone.now()
    event_type = TEMPLATE_EVENT[template]
    if event_type == EventType.RESPONDED:
        _check_response(request, template)
        event = request_responded_record(request=request, at=when, actor=actor, by_letter=True)
    else:
        event = request_event_add(request=request, type=event_type, at=when, actor=actor, reason=reason, by_letter=True)
    request.refresh_from_db()
    subject, body = communication_render(
        request=request, template=template, context={"reason": reason, **(context or {})}
    )
    edited = False
    if body_override is not None and body_override.strip() and not _same_text(body_override, body):
        edited = True
        body = body_override.replace("\r\n", "\n").strip() + "\n"
    if subject_override is not None and subject_override.strip() and " ".join(subject_override.split()) != subject:
        edited = True
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
    set_history_actor(communication, actor)
    communication.save()
    # Now that the event rests on this letter, it leaves the deadlines until the letter is delivered.
    rights_request_recompute(request=request)

    # Through the outbox: a broker outage keeps the letter (and its event) saved and delivers it later.
    job_enqueue("requests_app.tasks.communication_deliver_task", communication.pk)
    return communication


def _fails_for_good(exc: BaseException) -> bool:
    """Whether sending again cannot help: a refused header, or a permanent (5xx) refusal by the mail server."""
    if isinstance(exc, BadHeaderError | UnicodeError):
        return True
    if isinstance(exc, SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def communication_send_for_appeal(
    *,
    appeal: Appeal,
    template: str,
    event: RequestEvent,
    actor: User | None,
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
    set_history_actor(communication, actor)
    communication.save()
    job_enqueue("requests_app.tasks.communication_deliver_task", communication.pk)
    return communication


def communication_deliver(*, communication_id: int) -> bool:
    """Email a stored letter to the requester once. Returns whether it sent it now.

    A redelivered task finds ``delivered_at`` (or ``failed_at``) set and sends
    nothing. On delivery, the letter's event starts to count: the request's dates
    are recomputed, and an acknowledgement or an answer stamps the request. A
    refusal that sending again cannot cure (a bad header, a 5xx from the mail
    server) marks the letter failed (``communication_delivery_fail``); any other
    error propagates, for the task to retry.
    """
    with transaction.atomic():
        communication = Communication.objects.select_for_update().filter(pk=communication_id).first()
        if communication is None or communication.delivered_at is not None or communication.failed_at is not None:
            return False
        Communication.objects.filter(pk=communication_id).update(delivery_attempts=communication.delivery_attempts + 1)
    try:
        with transaction.atomic():
            communication = Communication.objects.select_for_update().get(pk=communication_id)
            if communication.delivered_at is not None or communication.failed_at is not None:
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
            _letter_delivered(communication)
    except Exception as exc:
        if not _fails_for_good(exc):
            raise
        communication_delivery_fail(communication_id=communication_id, reason=_failure_reason(exc))
        return False
    return True


def communication_delivery_record(*, communication_id: int, at: dt.datetime) -> bool:
    """Record that a stored letter reached the requester at ``at`` by other means; the worker then sends nothing.

    For history that happened elsewhere (the demo's past requests, a letter handed over or posted). Like a
    delivery, it makes the letter's event count from that day. Returns False if it was delivered or failed.
    """
    with transaction.atomic():
        communication = Communication.objects.select_for_update().filter(pk=communication_id).first()
        if communication is None or communication.delivered_at is not None or communication.failed_at is not None:
            return False
        communication.delivered_at = at
        communication.save(update_fields=["delivered_at"])
        _letter_delivered(communication)
    return True


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, SMTPResponseException):
        return f"The mail server refused the letter ({type(exc).__name__}, code {exc.smtp_code})."
    if isinstance(exc, SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"The mail server refused the recipient (code {', '.join(str(c) for c in codes)})."
    if isinstance(exc, BadHeaderError):
        return "The subject is not a valid email header (it contains a line break)."
    return f"The letter could not be sent ({type(exc).__name__})."


def _letter_delivered(communication: Communication) -> None:
    """The letter reached the mail server: its event now counts, from today."""
    if communication.event_id is None:
        return
    request = _lock(communication.request)
    event_type = RequestEvent.objects.values_list("type", flat=True).get(pk=communication.event_id)
    fields = []
    if event_type == EventType.ACKNOWLEDGED and request.acknowledged_at is None:
        request.acknowledged_at = communication.delivered_at
        fields.append("acknowledged_at")
    if event_type == EventType.RESPONDED and request.responded_at is None:
        request.responded_at = communication.delivered_at
        fields.append("responded_at")
    if fields:
        request.save(update_fields=[*fields, "updated_at"])
    rights_request_recompute(request=request)


def communication_delivery_fail(*, communication_id: int, reason: str) -> bool:
    """Mark a letter as never delivered and alert the request's handler (or the officers). Idempotent.

    Called when sending failed for good, or when the delivery task ran out of
    retries. ``reason`` is stored and shown to staff: the error type, never the
    letter's content. The letter's event stays out of the deadlines.
    """
    with transaction.atomic():
        communication = Communication.objects.select_for_update().filter(pk=communication_id).first()
        if communication is None or communication.delivered_at is not None or communication.failed_at is not None:
            return False
        communication.failed_at = timezone.now()
        communication.failure_reason = reason[:255]
        communication.save(update_fields=["failed_at", "failure_reason"])
        job_enqueue("requests_app.tasks.letter_failed_alert_task", communication.pk)
    logger.warning("letter %s could not be delivered: %s", communication_id, reason)
    return True
