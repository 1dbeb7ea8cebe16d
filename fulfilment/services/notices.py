"""Art. 19 notices: tell every recipient of the affected data what was erased, rectified or restricted.

Once every erasure, rectification and restriction plan of a request is
complete, each subprocessor the register lists as receiving an affected data
category gets one notice (whatever the number of lines), by email to its
privacy contact or, where it has one, a signed webhook. The notice is tracked
until the vendor confirms (a signed link in the email, a webhook answer, or
staff recording it), with reminders in between.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from compliance.emails import email_render
from compliance.history import set_history_actor
from compliance.models import ColumnTreatment, MappedColumn
from fulfilment.models import FulfilmentPlan, LocatedTable, PlanKind, RecipientNotice, TableAction
from fulfilment.services.common import logger, subject_for
from jobs.services import job_enqueue
from requests_app.models import RightsRequest

NOTICE_SALT = "fulfilment.art19-confirm"
_ACTION_OF_KIND: dict[str, str] = {
    PlanKind.ERASURE: "erasure",
    PlanKind.RECTIFICATION: "rectification",
    PlanKind.RESTRICTION: "restriction",
}


def affected_categories(request: RightsRequest) -> dict[str, set[int]]:
    """Per action (erasure, rectification, restriction), the data categories the completed plans touched."""
    affected: dict[str, set[int]] = {}
    plans = FulfilmentPlan.objects.filter(
        request=request, kind__in=list(_ACTION_OF_KIND), status=FulfilmentPlan.Status.COMPLETED
    )
    for plan in plans:
        ids: set[int] = set()
        if plan.kind == PlanKind.ERASURE:
            changed = {
                step.table_id for step in plan.steps.all() if step.table_id and (step.rows_deleted or step.rows_masked)
            }
            for entry in plan.tables:
                if entry.get("keep_rows") and entry["table_id"] not in changed:
                    continue  # a legal obligation kept every row the subject had there: nothing was erased
                columns = MappedColumn.objects.filter(table_id=entry["table_id"], data_category__isnull=False)
                if entry["action"] == TableAction.DELETE:
                    ids |= set(columns.values_list("data_category_id", flat=True))
                elif entry["action"] == TableAction.MASK:
                    ids |= set(
                        columns.exclude(treatment=ColumnTreatment.KEEP).values_list("data_category_id", flat=True)
                    )
        else:
            systems = [entry["system_id"] for entry in plan.tables]
            tables = LocatedTable.objects.filter(request=request, system_id__in=systems, rows__gt=0).values("table_id")
            ids |= set(
                MappedColumn.objects.filter(table_id__in=tables, data_category__isnull=False).values_list(
                    "data_category_id", flat=True
                )
            )
        if ids:
            affected.setdefault(_ACTION_OF_KIND[plan.kind], set()).update(ids)
    return affected


def notices_create(*, request_id: int) -> list[RecipientNotice]:
    """One notice per subprocessor receiving an affected category; queued for sending. Idempotent."""
    from subprocessors.selectors import recipients_for_categories

    request = RightsRequest.objects.get(pk=request_id)
    affected = affected_categories(request)
    all_ids = set().union(*affected.values()) if affected else set()
    if not all_ids:
        return []
    created = []
    with transaction.atomic():
        for vendor in recipients_for_categories(category_ids=all_ids).prefetch_related("data_categories"):
            received = {c.pk for c in vendor.data_categories.all()} & all_ids
            actions = [
                action
                for action in ("erasure", "rectification", "restriction")
                if affected.get(action, set()) & received
            ]
            channel = (
                RecipientNotice.Channel.WEBHOOK
                if vendor.erasure_webhook_url and settings.ART19_WEBHOOK_SECRET
                else RecipientNotice.Channel.EMAIL
            )
            notice, was_created = RecipientNotice.objects.get_or_create(
                request=request, subprocessor=vendor, defaults={"channel": channel, "actions": ", ".join(actions)}
            )
            if was_created:
                notice.categories.set(received)
                created.append(notice)
                job_enqueue("fulfilment.tasks.notice_send_task", notice.pk)
    if created:
        logger.info("fulfilment: %d Art. 19 notices created for request %s", len(created), request.pk)
    return created


def confirm_url(notice: RecipientNotice) -> str:
    token = signing.Signer(salt=NOTICE_SALT).sign(notice.public_id)
    return settings.SITE_URL + reverse("fulfilment:notice-confirm", args=[token])


def notice_for_token(token: str) -> RecipientNotice | None:
    try:
        public_id = signing.Signer(salt=NOTICE_SALT).unsign(token)
    except signing.BadSignature:
        logger.warning("fulfilment notice confirmation refused: tampered or malformed token")
        return None
    return RecipientNotice.objects.select_related("request", "subprocessor").filter(public_id=public_id).first()


def _render(notice: RecipientNotice, *, reminder: bool) -> tuple[str, str]:
    request = notice.request
    subject = subject_for(request)
    context = {
        "notice": notice,
        "vendor": notice.subprocessor,
        "request": request,
        "account_ref": subject.account_ref,
        "email": subject.key_for("email"),
        "actions": notice.actions,
        "categories": list(notice.categories.order_by("display_order")),
        "confirm_url": confirm_url(notice),
        "reminder": reminder,
    }
    return email_render("fulfilment/emails/art19_notice", context)


def _send(notice: RecipientNotice, *, reminder: bool) -> bool:
    """Deliver by email or webhook; returns whether the vendor confirmed in the same answer."""
    title, body = _render(notice, reminder=reminder)
    if notice.channel == RecipientNotice.Channel.WEBHOOK:
        subject = subject_for(notice.request)
        payload = json.dumps(
            {
                "type": "art19_notice",
                "notice": notice.public_id,
                "request": notice.request.reference,
                "actions": notice.actions.split(", "),
                "categories": [c.slug for c in notice.categories.all()],
                "subject": {"account_ref": subject.account_ref, "email": subject.key_for("email")},
                "reminder": reminder,
                "confirm_url": confirm_url(notice),
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        timestamp = int(time.time())
        response = requests.post(
            notice.subprocessor.erasure_webhook_url,
            data=payload,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(settings.ART19_WEBHOOK_SECRET, timestamp, payload),
            },
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        if response.status_code >= 300:
            raise ConnectionError(f"HTTP {response.status_code}")
        notice.recipient = notice.subprocessor.erasure_webhook_url[:254]
        notice.subject, notice.body = title[:255], payload.decode()
        try:
            return (response.json() or {}).get("status") == "confirmed"
        except ValueError:
            return False
    to = notice.subprocessor.privacy_contact_email
    EmailMessage(
        subject=title,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[settings.PRIVACY_CONTACT_EMAIL],
    ).send()
    notice.recipient = to
    notice.subject, notice.body = title[:255], body
    return False


def notice_send(*, notice_id: int, reminder: bool = False) -> bool:
    """Send a notice (or a reminder). A notice already sent is not sent again unless it is a reminder.

    Returns whether something was sent.
    """
    with transaction.atomic():
        notice = (
            RecipientNotice.objects.select_for_update(of=("self",))
            .select_related("subprocessor", "request")
            .get(pk=notice_id)
        )
        if notice.status == RecipientNotice.Status.CONFIRMED:
            return False
        if not reminder and notice.status == RecipientNotice.Status.SENT:
            return False
        now = timezone.now()
        notice.attempts += 1
        try:
            confirmed = _send(notice, reminder=reminder)
        except Exception as exc:  # recorded and retried by the reminder job; never the content
            notice.status = RecipientNotice.Status.FAILED
            notice.last_error = type(exc).__name__[:255]
            notice.save(update_fields=["status", "last_error", "attempts"])
            logger.warning("fulfilment notice %s not delivered: %s", notice.pk, type(exc).__name__)
            return False
        notice.last_error = ""
        if reminder and notice.sent_at is not None:
            notice.reminders_sent += 1
            notice.last_reminder_at = now
        else:
            notice.sent_at = now
        notice.status = RecipientNotice.Status.SENT
        if confirmed:
            notice.status = RecipientNotice.Status.CONFIRMED
            notice.confirmed_at = now
            notice.confirmed_via = "webhook"
        notice.save()
    return True


def notice_confirm(*, notice: RecipientNotice, via: str, actor: User | None = None) -> RecipientNotice:
    """Record the vendor's confirmation (from its signed link, or staff recording a reply)."""
    if actor is not None and not actor.has_perm("fulfilment.change_recipientnotice"):
        raise PermissionDenied("You cannot record confirmations.")
    with transaction.atomic():
        notice = RecipientNotice.objects.select_for_update().get(pk=notice.pk)
        if notice.status == RecipientNotice.Status.CONFIRMED:
            return notice
        if notice.sent_at is None:
            raise ValidationError("The notice has not been sent yet.")
        notice.status = RecipientNotice.Status.CONFIRMED
        notice.confirmed_at = timezone.now()
        notice.confirmed_via = via
        notice.confirmed_by = actor
        set_history_actor(notice, actor)
        notice.save()
    logger.info("fulfilment notice %s confirmed via %s", notice.pk, via)
    return notice


def notices_remind(*, now: datetime | None = None) -> int:
    """Remind vendors that have not confirmed, every ``ART19_REMINDER_DAYS`` days (at most
    ``ART19_MAX_REMINDERS`` times), and retry notices that could not be sent. Counted in days in the
    controller's time zone, so running it twice in a day sends nothing twice. Returns how many were sent.
    """
    now = now or timezone.now()
    due_on = timezone.localdate(now) - timedelta(days=settings.ART19_REMINDER_DAYS)
    sent = 0
    candidates = RecipientNotice.objects.filter(
        status=RecipientNotice.Status.SENT, reminders_sent__lt=settings.ART19_MAX_REMINDERS
    ).only("pk", "sent_at", "last_reminder_at")
    for notice in candidates:
        last_contact = notice.last_reminder_at or notice.sent_at
        if timezone.localdate(last_contact) <= due_on:
            sent += notice_send(notice_id=notice.pk, reminder=True)
    for notice_id in RecipientNotice.objects.filter(status__in=["failed", "pending"]).values_list("pk", flat=True):
        sent += notice_send(notice_id=notice_id, reminder=False)
    return sent
