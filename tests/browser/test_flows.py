"""What people do, in a real browser: a support agent logs a request; a compliance officer verifies the
requester, starts fulfilment, approves the erasure plan, sees the run finish and sends the answer letter;
a customer reads the public subprocessor list and subscribes to its change notices."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from compliance.models import Regime, Right
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep
from requests_app.models import Communication, RightsRequest
from subprocessors.models import NoticeSubscriber, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_activate, subprocessor_change_announce
from tests.fulfilment.conftest import _private_storage, platform, vendors  # noqa: F401 - fixtures
from tests.security.conftest import PASSWORD, code_for, enrolled
from tests.subprocessors.factories import DPAFactory, LocationFactory, SubprocessorFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]

REQUESTER = "Beatrix Fernsby"


def log_in(page, user, shots, who: str) -> None:
    """Password, then the code the person's authenticator shows."""
    device = enrolled(user)
    page.goto("/admin/")
    shots(page, f"{who} login page")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#two-factor-verify-form")
    page.fill("#id_token", code_for(device))
    shots(page, f"{who} second factor")
    page.click("#two-factor-verify-form input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url.endswith("/admin/")


def test_an_agent_logs_a_request_and_an_officer_verifies_erases_and_answers(
    new_page,
    shots,
    protections_on,
    jobs_run_eagerly,
    adequacy_list,
    platform,  # noqa: F811
    vendors,  # noqa: F811
    agent,
    officer,
):
    subject = platform.subject

    # The support agent logs the request that came by email.
    page = new_page()
    log_in(page, agent, shots, "agent")
    page.click("text=Rights requests")
    page.click("a.addlink")
    page.wait_for_selector("#id_requester_name")
    page.fill("#id_requester_name", REQUESTER)
    page.fill("#id_requester_email", subject.email)
    page.fill("#id_account_ref", subject.account_ref)
    page.select_option("#id_regime", value=str(Regime.objects.get(code="uk_gdpr").pk))
    for slug in ("access", "erasure"):
        page.check(f"input[name=rights][value='{Right.objects.get(slug=slug).pk}']")
    page.fill("#id_description", "Email to the privacy address: please send my data, then delete my account.")
    shots(page, "agent fills the intake form")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    assert "was added successfully" in page.inner_text("ul.messagelist")
    request = RightsRequest.objects.get()
    assert (request.requester_email, request.created_by) == (subject.email.lower(), agent)
    assert request.reference in page.content()
    shots(page, "agent sees the request in the list")

    # The compliance officer takes it from there.
    page = new_page()
    log_in(page, officer, shots, "officer")
    page.goto("/admin/requests_app/rightsrequest/")
    page.click(f"text={request.reference}")
    page.wait_for_selector("text=Identity verification")
    shots(page, "officer opens the request")
    page.click("text=Identity verification")
    page.select_option("select[name=identity_method]", "email_match")
    page.select_option("select[name=identity_outcome]", "verified")
    shots(page, "officer records the identity check")
    page.click("input[type=submit][value=Save]")
    assert "Identity verification recorded." in page.inner_text("ul.messagelist")

    page.click("button:has-text('Start fulfilment')")
    page.wait_for_selector("ul.messagelist")
    shots(page, "officer started fulfilment")
    erasure = FulfilmentPlan.objects.get(request=request, kind="erasure")
    assert erasure.status == FulfilmentPlan.Status.AWAITING_APPROVAL
    assert "Awaiting approval" in page.inner_text("fieldset:has(h2:text('Fulfilment'))")

    page.click(f"fieldset a[href$='/fulfilment/fulfilmentplan/{erasure.pk}/change/']")
    page.wait_for_selector("button:has-text('Approve this plan')")
    shots(page, "officer reviews the erasure plan")
    page.click("button:has-text('Approve this plan')")
    page.wait_for_selector("ul.messagelist")
    shots(page, "plan approved")

    # The run has finished: every step done, both lines completed, the bundle ready.
    page.goto(f"/admin/requests_app/rightsrequest/{request.pk}/change/")
    fulfilment = page.inner_text("fieldset:has(h2:text('Fulfilment'))")
    shots(page, "officer sees the run finished")
    erasure.refresh_from_db()
    assert erasure.status == FulfilmentPlan.Status.COMPLETED
    assert ExportBundle.objects.get(request=request).status == ExportBundle.Status.READY
    steps = FulfilmentStep.objects.filter(request=request)
    assert steps.exists() and not steps.exclude(status__in=["done", "waived"]).exists()
    assert "Completed" in fulfilment and "Failed" not in fulfilment and "Running" not in fulfilment
    assert not request.lines.exclude(status="completed").exists()

    # The answer: the letter says what was erased and what the VAT rule kept.
    page.click("text=Send a letter")
    answer = "completion" if not request.lines.exclude(outcome="fulfilled").exists() else "partial_or_refusal"
    page.select_option("select[name=template]", answer)
    page.click("input[name=_preview]")
    page.wait_for_selector("input[name=_send]")
    body = page.input_value("textarea[name=body]")
    assert REQUESTER in body
    shots(page, "officer previews the answer letter")
    page.click("input[name=_send]")
    assert "Letter stored and queued for sending." in page.inner_text("ul.messagelist")
    shots(page, "answer letter sent")
    letter = Communication.objects.get(request=request, template=answer)
    assert letter.delivered_at is not None
    assert [m.to for m in mail.outbox if m.subject == letter.subject] == [[subject.email.lower()]]


def test_a_customer_reads_the_public_subprocessor_list_and_subscribes(
    new_page, shots, jobs_run_eagerly, adequacy_list, baseline, officer
):
    from compliance.models import DataCategory

    vendor = SubprocessorFactory(legal_name="Nimbus Hosting Ltd", trading_name="Nimbus", slug="nimbus")
    vendor.data_categories.set(DataCategory.objects.filter(slug__in=["account-identity", "api-usage"]))
    LocationFactory(subprocessor=vendor, country="IE")
    DPAFactory(subprocessor=vendor)
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        change = subprocessor_change_announce(
            subprocessor=vendor,
            kind=SubprocessorChange.Kind.ADDITION,
            summary="Adding Nimbus for hosting.",
            effective_on=timezone.localdate() + timedelta(days=30),
            actor=officer,
        )
    subprocessor_change_activate(change=change, actor=officer)

    page = new_page()
    page.goto("/subprocessors/")
    assert page.inner_text("h1")
    assert "Nimbus" in page.content() and "Ireland" in page.content()
    assert "INTERNAL-NOTE-SENTINEL" not in page.content()
    shots(page, "public subprocessor list")

    page.fill("form.subscribe input[type=email]", "procurement@customer.example")
    page.click("form.subscribe button[type=submit]")
    page.wait_for_load_state()
    shots(page, "subscription requested")
    subscriber = NoticeSubscriber.objects.get(email="procurement@customer.example")
    assert subscriber.confirmed_at is None
    message = mail.outbox[-1]
    assert message.to == ["procurement@customer.example"]
    link = re.search(r"https?://\S+/subprocessors/confirm/\S+/", message.body).group(0)

    page.goto("/" + link.split("://", 1)[1].split("/", 1)[1])
    shots(page, "confirmation page")
    page.click("button:has-text('Confirm subscription')")
    page.wait_for_load_state()
    shots(page, "subscription confirmed")
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
