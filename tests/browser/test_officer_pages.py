"""The officer's pages in Chromium, with the second factor on: the request list with its new columns and
filters, the 403 page in the admin's look, and a retention run whose batch table fits the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.services import rights_request_open
from retention.models import RetentionRun, RetentionRunBatch, RunStatus
from tests.browser.test_flows import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]

VIEWPORT = 1280


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT, f"the page is {width} px wide"


def test_the_request_list_reads_well_and_fits_the_page(new_page, shots, protections_on, officer, agent):
    for n, (name, email) in enumerate([("Ana Maria Silva", "ana.silva@example.com"), ("Bo Chen", "bo@other.org")]):
        rights_request_open(
            requester_name=name,
            requester_email=email,
            regime="uk_gdpr",
            rights=["access", "erasure"][: n + 1],
            channel="email",
            received_at=timezone.now() - timedelta(days=20 + 15 * n),
            actor=agent,
        )
    page = new_page()
    log_in(page, officer, shots, "officer")
    page.goto("/admin/requests_app/rightsrequest/")
    text = page.inner_text("#result_list")
    assert "days left" in text or "days overdue" in text
    assert "UK GDPR" in text and "Erasure" in text
    assert "Search by reference" in page.inner_text("#changelist-search")
    shots(page, "request list")
    _fits(page)
    page.fill("#searchbar", "other.org")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    assert "Bo Chen" in page.inner_text("#result_list") and "Ana Maria" not in page.inner_text("#result_list")
    # The term was posted: the address bar (history, Referer, access log) carries a token, not the term.
    assert "other.org" not in page.url and "?s=" in page.url
    assert page.input_value("#searchbar") == "other.org"
    shots(page, "searched by email domain")
    page.goto("/admin/requests_app/rightsrequest/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "assign_to")
    page.click("button[name=index]")
    page.wait_for_selector("select[name=assignee]")
    shots(page, "assign to confirmation")


def test_a_refused_page_is_drawn_in_the_admin_look(new_page, shots, protections_on, agent):
    page = new_page()
    log_in(page, agent, shots, "agent")
    response = page.goto("/admin/retention/legalhold/")
    assert response.status == 403
    assert page.is_visible("#site-name") and "What you can do instead" in page.inner_text("#content")
    shots(page, "403 for an agent")
    response = page.goto("/admin/requests_app/rightsrequest/999999/change/")
    shots(page, "missing request")
    assert response.status in (200, 302, 404)  # the admin redirects a missing object to the list with a message


def test_a_retention_run_page_fits_the_page(new_page, shots, protections_on, officer, make_rule):
    rule = make_rule()
    run = RetentionRun.objects.create(
        rule=rule,
        mode="execute",
        status=RunStatus.SUCCEEDED,
        cutoff=timezone.now(),
        timestamp_column="created_at",
        rows_matched=30,
        rows_to_affect=30,
        longest_batch_ms=12.148620999994364,
    )
    for number in range(1, 4):
        RetentionRunBatch.objects.create(
            run=run,
            number=number,
            checkpoint_from=str(number * 1000),
            checkpoint_to=str(number * 1000 + 999),
            matched=10,
            affected=10,
            skipped_held=0,
            keys_sha256=f"{number}" * 64,
            evidence_sha256="e" * 64,
            duration_ms=12.148620999994364,
        )
    page = new_page()
    log_in(page, officer, shots, "officer")
    page.goto(f"/admin/retention/retentionrun/{run.pk}/change/")
    assert "12 ms" in page.inner_text("#content")
    shots(page, "retention run")
    _fits(page)
