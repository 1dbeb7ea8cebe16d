"""Subscriptions to change notices: double opt-in, signed single-purpose links.

A link carries the subscriber's id and random ``key``, signed with a salt per
purpose: a confirmation link cannot unsubscribe and an unsubscribe link cannot
confirm. Confirmation links expire; unsubscribe links work for as long as the
emails that carry them may be read. No address ever appears in a URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from compliance.emails import email_message
from compliance.history import set_history_actor
from jobs.services import job_enqueue
from subprocessors.emails import absolute_url
from subprocessors.models import NoticeSubscriber, new_subscriber_key

CONFIRM_SALT = "subprocessors.subscriber.confirm"
UNSUBSCRIBE_SALT = "subprocessors.subscriber.unsubscribe"
# A second subscription of a pending address within this time sends no second email.
CONFIRMATION_RESEND_AFTER = timedelta(minutes=10)


class InvalidLink(Exception):
    """A signed link that is forged, expired, for another purpose or no longer valid."""


def confirmation_token(subscriber: NoticeSubscriber) -> str:
    return signing.dumps([subscriber.pk, subscriber.key], salt=CONFIRM_SALT)


def unsubscribe_token(subscriber: NoticeSubscriber) -> str:
    return signing.dumps([subscriber.pk, subscriber.key], salt=UNSUBSCRIBE_SALT)


def confirmation_url(subscriber: NoticeSubscriber) -> str:
    return absolute_url(reverse("subprocessors:confirm", args=[confirmation_token(subscriber)]))


def unsubscribe_url(subscriber: NoticeSubscriber) -> str:
    return absolute_url(reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)]))


def _subscriber_from_token(token: str, *, salt: str, max_age: int | None) -> NoticeSubscriber:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired. Subscribe again to get a new one.") from None
    except signing.BadSignature:
        raise InvalidLink("This link is not valid.") from None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise InvalidLink("This link is not valid.")
    subscriber = NoticeSubscriber.objects.select_for_update().filter(pk=payload[0]).first()
    if subscriber is None or not constant_time_compare(str(payload[1]), subscriber.key):
        raise InvalidLink("This link is no longer valid.")
    return subscriber


def normalise_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased, or a ValidationError for an invalid one."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    return email


@transaction.atomic
def notice_subscriber_subscribe(*, email: str) -> tuple[NoticeSubscriber, bool]:
    """Start (or restart) a subscription; returns the subscriber and whether a confirmation is on its way.

    Subscribing twice keeps one row. A confirmed address gets no email (the page
    says the same either way, so it does not reveal who is subscribed); a pending
    one gets the confirmation again, at most once per ``CONFIRMATION_RESEND_AFTER``;
    an unsubscribed one starts over with fresh links.
    """
    email = normalise_email(email)
    subscriber, created = NoticeSubscriber.objects.get_or_create(email=email)
    subscriber = NoticeSubscriber.objects.select_for_update().get(pk=subscriber.pk)
    now = timezone.now()
    if subscriber.is_active:
        return subscriber, False
    if subscriber.unsubscribed_at is not None:
        subscriber.unsubscribed_at = None
        subscriber.confirmed_at = None
        subscriber.confirmation_sent_at = None
        subscriber.key = new_subscriber_key()
        subscriber.save()
    elif subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < CONFIRMATION_RESEND_AFTER:
        return subscriber, False
    # Through the outbox: a broker outage delays the email, never loses it. The worker stamps
    # ``confirmation_sent_at`` once the email is really sent, so a failed send blocks no retry.
    job_enqueue("subprocessors.tasks.subscriber_confirmation_send_task", subscriber.pk)
    return subscriber, True


@transaction.atomic
def notice_subscriber_confirmation_send(*, subscriber_id: int) -> bool:
    """Email the confirmation link (the worker's half of subscribing). False when no longer needed.

    The email is sent last in the transaction that records ``confirmation_sent_at``: a
    mail server that refuses it records nothing (the task retries). A second job for the
    same subscription (subscribed twice before the first was sent) finds it sent and
    sends nothing.
    """
    subscriber = NoticeSubscriber.objects.select_for_update().filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.confirmed_at is not None or subscriber.unsubscribed_at is not None:
        return False
    now = timezone.now()
    if subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < CONFIRMATION_RESEND_AFTER:
        return False
    subscriber.confirmation_sent_at = now
    subscriber.save(update_fields=["confirmation_sent_at"])

    max_age_days = settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS // 86400
    message = email_message(
        "subprocessors/email/confirm_subscription",
        {
            "confirm_url": confirmation_url(subscriber),
            "max_age_days": max_age_days,
            "max_age_hours": settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS // 3600,
            "list_url": absolute_url(reverse("subprocessors:list")),
        },
        to=[subscriber.email],
    )
    message.send()
    return True


@transaction.atomic
def notice_subscriber_confirm(*, token: str) -> NoticeSubscriber:
    """Confirm a subscription from its emailed link; announced changes then reach the new subscriber."""
    subscriber = _subscriber_from_token(
        token, salt=CONFIRM_SALT, max_age=settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS
    )
    if subscriber.unsubscribed_at is not None:
        raise InvalidLink("This subscription was cancelled. Subscribe again to get a new link.")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])

        job_enqueue("subprocessors.tasks.change_notices_send_pending_task")
    return subscriber


def subscriber_for_confirmation(*, token: str) -> NoticeSubscriber:
    """The subscriber a confirmation link is for, without confirming (the page before the button)."""
    with transaction.atomic():
        subscriber = _subscriber_from_token(
            token, salt=CONFIRM_SALT, max_age=settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS
        )
    if subscriber.unsubscribed_at is not None:
        raise InvalidLink("This subscription was cancelled. Subscribe again to get a new link.")
    return subscriber


def subscriber_for_unsubscribe(*, token: str) -> NoticeSubscriber:
    """The subscriber an unsubscribe link is for, without unsubscribing (the page before the button)."""
    with transaction.atomic():
        return _subscriber_from_token(token, salt=UNSUBSCRIBE_SALT, max_age=None)


@transaction.atomic
def notice_subscriber_unsubscribe(*, token: str) -> NoticeSubscriber:
    """Unsubscribe from an emailed link, in one click; repeating it changes nothing."""
    subscriber = _subscriber_from_token(token, salt=UNSUBSCRIBE_SALT, max_age=None)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
    return subscriber


@transaction.atomic
def notice_subscriber_unsubscribe_by_staff(*, subscriber: NoticeSubscriber, actor: User | None) -> NoticeSubscriber:
    """Unsubscribe someone who asked by other means (email, phone)."""
    subscriber = NoticeSubscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        set_history_actor(subscriber, actor)
        subscriber.save(update_fields=["unsubscribed_at"])
    return subscriber


def notice_subscribers_purge_unconfirmed(*, now: datetime | None = None) -> int:
    """Delete subscriptions never confirmed whose links have expired: an address nobody confirmed is not kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS) - timedelta(days=1)
    stale = NoticeSubscriber.objects.filter(confirmed_at__isnull=True, created_at__lt=cutoff).exclude(
        confirmation_sent_at__gte=cutoff
    )
    _, per_model = stale.delete()
    return per_model.get(NoticeSubscriber._meta.label, 0)
