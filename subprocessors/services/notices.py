"""Emailing announced changes to subscribers, once per (change, subscriber).

A delivery row is inserted first (the unique constraint makes a second insert a
no-op), then each unsent row is claimed with ``SKIP LOCKED``, the email sent and
the row stamped in the same transaction. Running the job twice, or on two
workers at once, sends each notice once. A worker killed after sending but
before committing sends that one notice again on the next run: a duplicate is
better than a customer never hearing of a change.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from compliance.emails import email_message
from subprocessors.emails import absolute_url
from subprocessors.models import ChangeNoticeDelivery, NoticeSubscriber, SubprocessorChange
from subprocessors.services.subscribers import unsubscribe_url

logger = logging.getLogger(__name__)

# A delivery that failed this often is left for staff to look at (it shows in admin).
MAX_ATTEMPTS = 5


def active_subscribers() -> QuerySet[NoticeSubscriber]:
    """Confirmed subscribers who have not unsubscribed: those a change notice goes to."""
    return _active_subscribers()


def _active_subscribers() -> QuerySet[NoticeSubscriber]:
    return NoticeSubscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)


def change_notices_send(*, change_id: int) -> dict[str, int]:
    """Email an announced change to every confirmed subscriber who has not had it yet."""
    outcome = {"sent": 0, "failed": 0}
    change = (
        SubprocessorChange.objects.select_related("subprocessor", "location", "purpose", "data_category")
        .filter(pk=change_id)
        .first()
    )
    if change is None or change.status != SubprocessorChange.Status.ANNOUNCED:
        return outcome
    ChangeNoticeDelivery.objects.bulk_create(
        [
            ChangeNoticeDelivery(change=change, subscriber_id=pk)
            for pk in _active_subscribers().values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )
    pending = ChangeNoticeDelivery.objects.filter(
        change=change,
        sent_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
        subscriber__confirmed_at__isnull=False,
        subscriber__unsubscribed_at__isnull=True,
    ).order_by("pk")
    for delivery_id in list(pending.values_list("pk", flat=True)):
        sent = _deliver(delivery_id=delivery_id, change=change)
        if sent is True:
            outcome["sent"] += 1
        elif sent is False:
            outcome["failed"] += 1
    return outcome


@transaction.atomic
def _deliver(*, delivery_id: int, change: SubprocessorChange) -> bool | None:
    delivery = (
        ChangeNoticeDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("subscriber")
        .filter(pk=delivery_id, sent_at__isnull=True)
        .first()
    )
    if delivery is None:  # sent meanwhile, or another worker holds it
        return None
    subscriber = delivery.subscriber
    unsubscribe = unsubscribe_url(subscriber)
    message = email_message(
        "subprocessors/email/change_notice",
        {
            "change": change,
            "subprocessor": change.subprocessor,
            "list_url": absolute_url(reverse("subprocessors:list")),
            "unsubscribe_url": unsubscribe,
        },
        to=[subscriber.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    delivery.attempts += 1
    try:
        message.send()
    except Exception as exc:  # any transport error: record it, try again on the next run
        delivery.last_error = type(exc).__name__[:200]
        delivery.save(update_fields=["attempts", "last_error"])
        logger.warning("change notice %s to subscriber %s failed: %s", change.pk, subscriber.pk, type(exc).__name__)
        return False
    delivery.sent_at = timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["attempts", "last_error", "sent_at"])
    return True


def change_notices_send_pending() -> dict[str, int]:
    """The beat job: every announced change to every subscriber still missing it (new subscribers, failures),
    and every withdrawal to those told of the change who have not heard of the withdrawal yet."""
    total = {"sent": 0, "failed": 0}
    announced = SubprocessorChange.objects.filter(status=SubprocessorChange.Status.ANNOUNCED).order_by("pk")
    for change_id in announced.values_list("pk", flat=True):
        for key, value in change_notices_send(change_id=change_id).items():
            total[key] += value
    withdrawn = _withdrawal_pending().values_list("change_id", flat=True).order_by("change_id").distinct()
    for change_id in list(withdrawn):
        for key, value in change_withdrawal_notices_send(change_id=change_id).items():
            total[key] += value
    return total


def _withdrawal_pending() -> QuerySet[ChangeNoticeDelivery]:
    return ChangeNoticeDelivery.objects.filter(
        change__status=SubprocessorChange.Status.WITHDRAWN,
        sent_at__isnull=False,  # only those who were told of the announcement
        withdrawal_sent_at__isnull=True,
        withdrawal_attempts__lt=MAX_ATTEMPTS,
        subscriber__unsubscribed_at__isnull=True,
    )


def change_withdrawal_notices_send(*, change_id: int) -> dict[str, int]:
    """Tell each subscriber who was emailed a change that it has been withdrawn, once each.

    Subscribers who never received the announcement (it was withdrawn before their notice went out) are
    not written to; those who unsubscribed since are left alone.
    """
    outcome = {"sent": 0, "failed": 0}
    change = SubprocessorChange.objects.select_related("subprocessor").filter(pk=change_id).first()
    if change is None or change.status != SubprocessorChange.Status.WITHDRAWN:
        return outcome
    for delivery_id in list(_withdrawal_pending().filter(change=change).order_by("pk").values_list("pk", flat=True)):
        sent = _deliver_withdrawal(delivery_id=delivery_id, change=change)
        if sent is True:
            outcome["sent"] += 1
        elif sent is False:
            outcome["failed"] += 1
    return outcome


@transaction.atomic
def _deliver_withdrawal(*, delivery_id: int, change: SubprocessorChange) -> bool | None:
    delivery = (
        _withdrawal_pending()
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("subscriber")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    subscriber = delivery.subscriber
    unsubscribe = unsubscribe_url(subscriber)
    message = email_message(
        "subprocessors/email/change_withdrawn",
        {
            "change": change,
            "subprocessor": change.subprocessor,
            "list_url": absolute_url(reverse("subprocessors:list")),
            "unsubscribe_url": unsubscribe,
        },
        to=[subscriber.email],
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    delivery.withdrawal_attempts += 1
    try:
        message.send()
    except Exception as exc:  # any transport error: record it, the beat job tries again
        delivery.last_error = type(exc).__name__[:200]
        delivery.save(update_fields=["withdrawal_attempts", "last_error"])
        logger.warning("withdrawal notice %s to subscriber %s failed: %s", change.pk, subscriber.pk, type(exc).__name__)
        return False
    delivery.withdrawal_sent_at = timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["withdrawal_attempts", "last_error", "withdrawal_sent_at"])
    return True
