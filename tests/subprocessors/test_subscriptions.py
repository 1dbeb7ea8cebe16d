"""Double opt-in subscriptions: confirmation and unsubscribe links are signed, single-purpose, address-free."""

import base64
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from subprocessors.models import NoticeSubscriber
from subprocessors.services.subscribers import (
    confirmation_token,
    notice_subscriber_subscribe,
    notice_subscribers_purge_unconfirmed,
    unsubscribe_token,
)

pytestmark = pytest.mark.usefixtures("eager_tasks")


def subscribe(client, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("subprocessors:subscribe"), {"email": email})


def link_in(message, name):
    match = re.search(rf"http://127\.0\.0\.1:8000(/subprocessors/{name}/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_subscribing_sends_a_confirmation_link_and_confirming_starts_the_subscription(
    client, db, django_capture_on_commit_callbacks
):
    response = subscribe(client, "  DPO@Customer.Example ", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    subscriber = NoticeSubscriber.objects.get()
    assert subscriber.email == "dpo@customer.example"
    assert not subscriber.is_active
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dpo@customer.example"]
    confirm_path = link_in(mail.outbox[0], "confirm")

    # Opening the link (as a mail scanner would) confirms nothing; the button does.
    page = client.get(confirm_path)
    assert page.status_code == 200 and b"Confirm subscription" in page.content
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(confirm_path)
    assert b"Subscription confirmed" in done.content
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_links_carry_no_email_address(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        subscriber, _ = notice_subscriber_subscribe(email="someone.private@customer.example")
    for token in (confirmation_token(subscriber), unsubscribe_token(subscriber)):
        payload = token.split(":")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert b"someone" not in decoded and b"customer" not in decoded


def test_subscribing_twice_keeps_one_subscription_and_sends_one_email(client, db, django_capture_on_commit_callbacks):
    subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    second = subscribe(client, "DPO@customer.example", django_capture_on_commit_callbacks)
    assert second.status_code == 200 and b"Check your inbox" in second.content
    assert NoticeSubscriber.objects.count() == 1
    assert len(mail.outbox) == 1
    # After the resend interval a pending address may ask again.
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    assert NoticeSubscriber.objects.count() == 1
    assert len(mail.outbox) == 2


def test_a_confirmed_subscriber_subscribing_again_gets_no_email_and_the_same_page(
    client, db, django_capture_on_commit_callbacks
):
    from tests.support.factories import SubscriberFactory

    SubscriberFactory(email="dpo@customer.example")
    response = subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    assert b"Check your inbox" in response.content
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 250 + "@example.com", "dpo@@customer.example"])
def test_an_invalid_email_is_refused_with_a_clear_message_and_nothing_saved(
    client, db, email, django_capture_on_commit_callbacks
):
    response = subscribe(client, email, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert b"valid email address" in response.content or b"Enter your email address" in response.content
    assert not NoticeSubscriber.objects.exists()
    assert mail.outbox == []


def test_a_confirmation_link_expires(client, db, django_capture_on_commit_callbacks, settings):
    subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    path = link_in(mail.outbox[0], "confirm")
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS + 60)
    ):
        response = client.post(path)
    assert response.status_code == 400
    assert b"This link has expired" in response.content
    assert NoticeSubscriber.objects.get().confirmed_at is None


def test_links_are_single_purpose(client, db):
    from tests.support.factories import SubscriberFactory

    pending = SubscriberFactory(confirmed_at=None)
    active = SubscriberFactory()
    # A confirmation token does not unsubscribe, an unsubscribe token does not confirm.
    one_click = {"List-Unsubscribe": "One-Click"}
    response = client.post(reverse("subprocessors:unsubscribe", args=[confirmation_token(active)]), one_click)
    assert response.status_code == 400
    assert client.get(reverse("subprocessors:unsubscribe", args=[confirmation_token(active)])).status_code == 400
    response = client.post(reverse("subprocessors:confirm", args=[unsubscribe_token(pending)]))
    assert response.status_code == 400
    active.refresh_from_db()
    pending.refresh_from_db()
    assert active.unsubscribed_at is None
    assert pending.confirmed_at is None


def test_a_tampered_link_is_refused(client, db):
    from tests.support.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    token = unsubscribe_token(subscriber)
    other = SubscriberFactory()
    # Someone swaps in another subscriber's id (and key) but keeps the signature.
    payload = base64.urlsafe_b64encode(json.dumps([other.pk, other.key], separators=(",", ":")).encode())
    forged = payload.decode().rstrip("=") + token[token.index(":") :]
    signed_elsewhere = signing.dumps([other.pk, other.key], salt="another.purpose")
    for bad in (token[:-2] + "xx", forged, signed_elsewhere, "garbage"):
        path = reverse("subprocessors:unsubscribe", args=[bad])
        assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 400
        assert client.get(path).status_code == 400
    other.refresh_from_db()
    assert other.unsubscribed_at is None


def _csrf_token(page) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, page.content[:500]
    return match.group(1).decode()


def test_opening_the_unsubscribe_link_changes_nothing_and_its_button_unsubscribes(db):
    from django.test import Client

    from tests.support.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    client = Client(enforce_csrf_checks=True)
    path = reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)])
    # A mail scanner (or a person) opening the link: a page with a button, nothing changed.
    page = client.get(path)
    assert page.status_code == 200
    assert b'<button type="submit">Unsubscribe</button>' in page.content
    assert f'action="{path}"'.encode() in page.content
    assert client.get(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None and subscriber.is_active
    # The button posts the form with its CSRF token.
    response = client.post(path, {"csrfmiddlewaretoken": _csrf_token(page)})
    assert response.status_code == 200 and b"You are unsubscribed" in response.content
    subscriber.refresh_from_db()
    first = subscriber.unsubscribed_at
    assert first is not None
    # Opening the link again says so; posting again changes nothing.
    assert b"You are unsubscribed" in client.get(path).content
    assert client.post(path, {"csrfmiddlewaretoken": _csrf_token(page)}).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at == first


def test_a_cross_site_post_without_the_csrf_token_or_one_click_body_unsubscribes_nobody(db):
    from django.test import Client

    from tests.support.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    client = Client(enforce_csrf_checks=True)
    path = reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)])
    assert client.post(path, {}).status_code == 403
    assert client.post(path, {"List-Unsubscribe": "yes"}).status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None


def test_mail_clients_can_unsubscribe_with_a_one_click_post_without_a_csrf_token(db):
    from django.test import Client

    from tests.support.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)]),
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_subscribing_again_after_unsubscribing_needs_a_new_confirmation_and_voids_old_links(
    client, db, django_capture_on_commit_callbacks
):
    from tests.support.factories import SubscriberFactory

    subscriber = SubscriberFactory(email="dpo@customer.example")
    old_unsubscribe = reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)])
    client.post(old_unsubscribe, {"List-Unsubscribe": "One-Click"})
    subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None and subscriber.confirmed_at is None
    assert len(mail.outbox) == 1
    assert client.get(old_unsubscribe).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link_in(mail.outbox[0], "confirm"))
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_an_old_confirmation_link_cannot_confirm_after_unsubscribing(client, db, django_capture_on_commit_callbacks):
    subscribe(client, "dpo@customer.example", django_capture_on_commit_callbacks)
    confirm_path = link_in(mail.outbox[0], "confirm")
    subscriber = NoticeSubscriber.objects.get()
    client.post(
        reverse("subprocessors:unsubscribe", args=[unsubscribe_token(subscriber)]), {"List-Unsubscribe": "One-Click"}
    )
    assert client.post(confirm_path).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None


def test_the_subscribe_form_is_rate_limited_per_client(client, db, settings, django_capture_on_commit_callbacks):
    settings.SUBPROCESSOR_SUBSCRIBE_LIMIT = 2
    statuses = [
        subscribe(client, f"person{i}@customer.example", django_capture_on_commit_callbacks).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    assert NoticeSubscriber.objects.count() == 2
    # Another client address is not affected.
    other = client.post(reverse("subprocessors:subscribe"), {"email": "x@customer.example"}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 200
    # The window passes.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SUBPROCESSOR_SUBSCRIBE_WINDOW_SECONDS + 1)):
        assert subscribe(client, "late@customer.example", django_capture_on_commit_callbacks).status_code == 200


def test_subscriptions_never_confirmed_are_deleted_once_their_link_expired(db, settings):
    from tests.support.factories import SubscriberFactory

    pending = SubscriberFactory(confirmed_at=None, confirmation_sent_at=timezone.now())
    confirmed = SubscriberFactory()
    assert notice_subscribers_purge_unconfirmed() == 0
    later = timezone.now() + timedelta(seconds=settings.SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS) + timedelta(days=2)
    assert notice_subscribers_purge_unconfirmed(now=later) == 1
    assert list(NoticeSubscriber.objects.all()) == [confirmed]
    # The history keeps no address.
    assert not any(hasattr(h, "email") for h in pending.history.all())
