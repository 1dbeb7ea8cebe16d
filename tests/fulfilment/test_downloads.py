"""The requester's download page: signed, expiring, limited links, email confirmation or one-time code."""

import datetime as dt
import io
import re
import zipfile

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from fulfilment.models import DownloadAttempt, DownloadLink, ExportBundle
from fulfilment.services import bundles_purge_expired, download_link_create, fulfilment_start
from fulfilment.services.common import bundle_storage
from fulfilment.services.exports import link_token

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def bundle(platform, open_request, officer, django_capture_on_commit_callbacks) -> ExportBundle:
    request = open_request(platform.subject, ["access", "portability"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    return ExportBundle.objects.get(request=request)


def _url(link: DownloadLink) -> str:
    return reverse("fulfilment:download", args=[link_token(link)])


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_access_and_portability_share_one_bundle_and_the_requester_gets_one_link_by_email(bundle):
    assert ExportBundle.objects.filter(request=bundle.request).count() == 1
    assert {line.outcome for line in bundle.request.lines.all()} == {"fulfilled"}
    link = bundle.links.get()
    message = next(m for m in mail.outbox if "ready to download" in m.subject)
    assert message.to == [bundle.request.requester_email]
    assert _url(link) in message.body
    assert bundle.request.requester_email not in _url(link)


def test_the_right_email_address_downloads_the_zip_and_every_download_is_recorded(client, bundle):
    link = bundle.links.get()
    page = client.get(_url(link))
    assert page.status_code == 200 and b"type the email address" in page.content
    response = client.post(_url(link), {"email": bundle.request.requester_email.upper()})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert _zip(response).testzip() is None
    link.refresh_from_db()
    assert link.downloads_used == 1
    attempt = DownloadAttempt.objects.get(link=link, outcome="downloaded")
    assert attempt.client and "127.0.0.1" not in attempt.client


def test_a_wrong_email_is_refused_recorded_and_locks_the_link_after_too_many(client, bundle, settings):
    settings.EXPORT_LINK_MAX_FAILURES = 3
    link = bundle.links.get()
    for _ in range(2):
        response = client.post(_url(link), {"email": "someone.else@example.com"})
        assert response.status_code == 200 and b"not the email address" in response.content
    response = client.post(_url(link), {"email": "someone.else@example.com"})
    assert response.status_code == 403 and b"locked" in response.content
    response = client.post(_url(link), {"email": bundle.request.requester_email})
    assert response.status_code == 403
    link.refresh_from_db()
    assert link.downloads_used == 0 and link.locked_at is not None
    outcomes = list(DownloadAttempt.objects.filter(link=link).values_list("outcome", flat=True))
    assert outcomes.count("wrong_email") == 3 and "locked" in outcomes


def test_a_tampered_or_unknown_token_is_refused_without_revealing_anything(client, bundle, fulfilment_log):
    token = link_token(bundle.links.get())
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, "nothing-here", token.split(":")[0] + ":forged"]:
        response = client.get(reverse("fulfilment:download", args=[bad]))
        assert response.status_code == 404
        assert b"not valid" in response.content
    assert "tampered" in fulfilment_log.text and token not in fulfilment_log.text


def test_the_link_allows_n_downloads_then_refuses(client, bundle):
    link, _url_text = download_link_create(bundle=bundle, actor=None, max_downloads=2, send_email=False)
    for _ in range(2):
        assert client.post(_url(link), {"email": bundle.request.requester_email}).status_code == 200
    response = client.post(_url(link), {"email": bundle.request.requester_email})
    assert response.status_code == 410 and b"as many times as it allows" in response.content
    link.refresh_from_db()
    assert link.downloads_used == 2
    assert DownloadAttempt.objects.filter(link=link, outcome="exhausted").count() == 1


def test_the_link_expires_after_seven_days_by_default(client, bundle):
    link = bundle.links.get()
    assert dt.timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= dt.timedelta(days=7)
    with time_machine.travel(link.expires_at + dt.timedelta(seconds=1)):
        response = client.post(_url(link), {"email": bundle.request.requester_email})
    assert response.status_code == 410 and b"expired" in response.content
    assert DownloadAttempt.objects.filter(link=link, outcome="expired").exists()


def test_a_revoked_link_is_refused(client, bundle, officer):
    from fulfilment.services import download_link_revoke

    link = download_link_revoke(link=bundle.links.get(), actor=officer)
    assert client.get(_url(link)).status_code == 410


def test_a_one_time_code_is_emailed_works_once_and_a_wrong_code_is_refused(
    client, bundle, django_capture_on_commit_callbacks
):
    link, _ = download_link_create(bundle=bundle, actor=None, method="code", send_email=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(link), {"send_code": "1"})
    code_mail = mail.outbox[-1]
    assert code_mail.to == [bundle.request.requester_email]
    code = re.search(r"\b(\d{8})\b", code_mail.body).group(1)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    response = client.post(_url(link), {"code": wrong})
    assert response.status_code == 200 and b"wrong or has expired" in response.content
    assert client.post(_url(link), {"code": code}).status_code == 200
    response = client.post(_url(link), {"code": code})
    assert response.status_code == 200 and b"wrong or has expired" in response.content  # used once
    link.refresh_from_db()
    assert link.downloads_used == 1
    assert list(DownloadAttempt.objects.filter(link=link).order_by("at", "id").values_list("outcome", flat=True)) == [
        "code_sent",
        "wrong_code",
        "downloaded",
        "wrong_code",
    ]


def test_a_one_time_code_expires(client, bundle, django_capture_on_commit_callbacks):
    link, _ = download_link_create(bundle=bundle, actor=None, method="code", send_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(link), {"send_code": "1"})
    code = re.search(r"\b(\d{8})\b", mail.outbox[-1].body).group(1)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        response = client.post(_url(link), {"code": code})
    assert b"wrong or has expired" in response.content


def test_codes_are_limited_per_hour(client, bundle, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_LINK_CODES_PER_HOUR = 2
    link, _ = download_link_create(bundle=bundle, actor=None, method="code", send_email=False)
    sent_before = len(mail.outbox)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(_url(link), {"send_code": "1"})
    assert len(mail.outbox) == sent_before + 2
    assert b"try again in an hour" in response.content


def test_the_beat_job_purges_expired_bundles_and_their_links_stop_working(client, bundle):
    link = bundle.links.get()
    storage = bundle_storage()
    assert storage.exists(bundle.file_name)
    with time_machine.travel(bundle.expires_at - dt.timedelta(minutes=1)):
        assert bundles_purge_expired() == 0
    with time_machine.travel(bundle.expires_at + dt.timedelta(minutes=1)):
        assert bundles_purge_expired() == 1
        assert bundles_purge_expired() == 0
    bundle.refresh_from_db()
    assert bundle.status == "purged" and bundle.purged_at is not None
    assert not storage.exists(bundle.file_name)
    assert client.get(_url(link)).status_code == 410


def test_the_download_page_never_caches_and_sends_its_token_to_no_other_site(client, bundle):
    response = client.get(_url(bundle.links.get()))
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert b'name="referrer" content="same-origin"' in response.content
    assert b"no-referrer" not in response.content  # Chromium then posts the form with Origin: null


def test_the_download_form_posted_from_its_own_page_passes_the_csrf_check(bundle):
    """What Chromium sends with ``same-origin``: the page's own origin; ``no-referrer`` sent ``null``."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    url = _url(bundle.links.get())
    browser.get(url)
    token = browser.cookies["csrftoken"].value
    answer = {"email": bundle.request.requester_email, "csrfmiddlewaretoken": token}
    refused = browser.post(url, answer, HTTP_ORIGIN="null")
    assert refused.status_code == 403
    response = browser.post(url, answer, HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")


def test_the_purge_job_removes_what_killed_workers_left_in_the_build_folder(tmp_path, settings):
    import os

    settings.EXPORT_BUNDLE_TEMP_DIR = str(tmp_path)
    old = tmp_path / "bundle-part-abc.deflate"
    fresh = tmp_path / "bundle-part-def.deflate"
    other = tmp_path / "notes.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    two_days_ago = timezone.now().timestamp() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(other, (two_days_ago, two_days_ago))
    bundles_purge_expired()
    assert not old.exists() and fresh.exists() and other.exists()


def test_a_purge_interrupted_after_deleting_the_file_is_finished_by_the_next_run(client, bundle):
    storage = bundle_storage()
    storage.delete(bundle.file_name)  # the worker died right after deleting the file
    link = bundle.links.get()
    response = client.post(_url(link), {"email": bundle.request.requester_email})
    assert response.status_code == 410 and b"no longer available" in response.content
    with time_machine.travel(bundle.expires_at + dt.timedelta(minutes=1)):
        assert bundles_purge_expired() == 1
    bundle.refresh_from_db()
    assert bundle.status == "purged"
