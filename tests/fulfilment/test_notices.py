"""Art. 19 notices: once per affected vendor, by email or signed webhook, confirmed, reminded."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from compliance.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from fulfilment.models import FulfilmentPlan, RecipientNotice
from fulfilment.services import fulfilment_start, notices_create, notices_remind, plan_approve
from fulfilment.services.notices import confirm_url

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _erase(request, officer, capture):
    with capture(execute=True):
        fulfilment_start(request=request, actor=officer)
    for plan in FulfilmentPlan.objects.filter(request=request, status="awaiting_approval"):
        with capture(execute=True):
            plan_approve(plan=plan, actor=officer)


def test_one_notice_per_affected_vendor_whatever_the_number_of_lines_and_runs(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure", "restriction"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    notices = RecipientNotice.objects.filter(request=request)
    # The retired vendor no longer receives data; the billing vendor only hears of the restriction,
    # since erasure kept the invoices and wallet rows it receives.
    assert sorted(n.subprocessor.slug for n in notices) == ["helpdesk", "inferco", "payco"]
    assert notices.get(subprocessor=vendors["payments"]).actions == "restriction"
    with django_capture_on_commit_callbacks(execute=True):
        assert notices_create(request_id=request.pk) == []
    assert RecipientNotice.objects.filter(request=request).count() == 3
    inference = notices.get(subprocessor=vendors["inference"])
    assert inference.actions == "erasure, restriction"
    assert {c.slug for c in inference.categories.all()} == {"content", "api-usage"}
    sent = [m for m in mail.outbox if "Article 19" in m.body]
    assert sorted(m.to[0] for m in sent) == [
        "privacy@helpdesk.example",
        "privacy@inferco.example",
        "privacy@payco.example",
    ]
    assert inference.status == "sent" and inference.sent_at is not None
    assert confirm_url(inference) in next(m.body for m in sent if m.to == ["privacy@inferco.example"])


def test_an_erasure_that_keeps_the_billing_data_does_not_notify_the_billing_vendor(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    assert sorted(RecipientNotice.objects.filter(request=request).values_list("subprocessor__slug", flat=True)) == [
        "helpdesk",
        "inferco",
    ]
    assert all(m.to[0] != "privacy@payco.example" for m in mail.outbox)


def test_a_vendor_confirms_through_its_signed_link_and_a_tampered_link_is_refused(
    client, platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    notice = RecipientNotice.objects.get(request=request, subprocessor=vendors["helpdesk"])
    url = confirm_url(notice).removeprefix("http://testserver").split("127.0.0.1:8000")[-1]
    assert client.get(url.replace("/confirm/", "x/confirm/")).status_code == 404
    page = client.get(url)
    assert page.status_code == 200 and b"Confirm it is done" in page.content
    notice.refresh_from_db()
    assert notice.status == "sent"  # a GET (a link scanner) confirms nothing
    client.post(url)
    notice.refresh_from_db()
    assert notice.status == "confirmed" and notice.confirmed_via == "link"


def test_reminders_go_weekly_to_unconfirmed_vendors_at_most_three_times_and_never_twice_a_day(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    confirmed = RecipientNotice.objects.get(request=request, subprocessor=vendors["helpdesk"])
    from fulfilment.services import notice_confirm

    notice_confirm(notice=confirmed, via="staff", actor=officer)
    start = timezone.now()
    assert notices_remind(now=start + dt.timedelta(days=6)) == 0
    reminded = []
    for week in range(1, 6):
        with time_machine.travel(start + dt.timedelta(days=7 * week, hours=1)):
            reminded.append(notices_remind())
            reminded.append(notices_remind())
    assert reminded == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    notice = RecipientNotice.objects.get(request=request, subprocessor=vendors["inference"])
    assert notice.reminders_sent == 3
    reminders = [m for m in mail.outbox if m.subject.startswith("Reminder:")]
    assert len(reminders) == 3 and {m.to[0] for m in reminders} == {"privacy@inferco.example"}


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    answer = b'{"status": "confirmed"}'

    def do_POST(self):  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(_Receiver.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/art19"
    server.shutdown()


def test_a_vendor_with_a_webhook_gets_a_signed_notice_and_its_answer_confirms_it(
    platform, vendors, open_request, officer, settings, receiver, django_capture_on_commit_callbacks
):
    settings.ART19_WEBHOOK_SECRET = "shared-with-the-vendor"
    vendor = vendors["inference"]
    vendor.erasure_webhook_url = receiver
    vendor.save()
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    notice = RecipientNotice.objects.get(request=request, subprocessor=vendor)
    assert notice.channel == "webhook" and notice.status == "confirmed" and notice.confirmed_via == "webhook"
    headers, body = _Receiver.received[-1]
    verify(
        "shared-with-the-vendor", timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER], body=body
    )
    payload = json.loads(body)
    assert payload["request"] == request.reference and payload["actions"] == ["erasure"]
    assert payload["subject"]["account_ref"] == platform.subject.account_ref


def test_a_notice_that_cannot_be_sent_is_marked_failed_and_retried_by_the_reminder_job(
    platform, vendors, open_request, officer, settings, django_capture_on_commit_callbacks
):
    settings.ART19_WEBHOOK_SECRET = "secret"
    vendor = vendors["inference"]
    vendor.erasure_webhook_url = "http://127.0.0.1:9/nothing-listens-here"
    vendor.save()
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    notice = RecipientNotice.objects.get(request=request, subprocessor=vendor)
    assert notice.status == "failed" and notice.last_error == "ConnectionError"
    assert platform.subject.email not in notice.last_error
    vendor.erasure_webhook_url = ""
    vendor.save()
    RecipientNotice.objects.filter(pk=notice.pk).update(channel="email")
    assert notices_remind() == 1
    notice.refresh_from_db()
    assert notice.status == "sent"


def test_the_admin_confirmation_page_for_an_unsent_notice_changes_nothing(client, platform, vendors, open_request):
    request = open_request(platform.subject, ["erasure"])
    notice = RecipientNotice.objects.create(request=request, subprocessor=vendors["helpdesk"], channel="email")
    url = reverse("fulfilment:notice-confirm", args=[confirm_url(notice).rsplit("/art19-notices/", 1)[1].split("/")[0]])
    response = client.post(url)
    assert response.status_code == 200 and b"not been sent yet" in response.content
    notice.refresh_from_db()
    assert notice.status == "pending"


def test_the_notice_speaks_for_the_controller_and_is_signed_by_its_privacy_team_not_the_back_office(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks, settings
):
    # A vendor's privacy team hears from the controller it has a contract with ("Studio"), never from the name
    # of the internal tool that sent the email (SITE_NAME, "Studio compliance back office").
    settings.SITE_NAME = "Internal tool XYZ"
    settings.CONTROLLER_NAME = "Acme"
    settings.PRIVACY_TEAM_SIGNATURE = "The Acme privacy office"
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    [notice] = [m for m in mail.outbox if m.to == ["privacy@inferco.example"]]
    assert "as a recipient of personal data from Acme," in " ".join(notice.body.split())
    assert notice.body.rstrip().endswith("The Acme privacy office")
    assert "Internal tool XYZ" not in notice.body
