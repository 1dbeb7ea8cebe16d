"""Every letter and email a requester gets, for every regime, reads as written for them: their data by
category and purpose, what we did and kept, why and until when; no table names, row counts, library names,
internal references or blanks; signed by the controller's privacy team with the contact address."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from compliance.models import MappedTable, Regime
from fulfilment.models import DownloadLink, ExportBundle, FulfilmentPlan
from fulfilment.selectors import letter_context
from fulfilment.services import download_code_send, download_link_create, fulfilment_start, plan_approve
from fulfilment.services.exports import _email_link
from requests_app.models import LetterTemplate, Outcome, RefusalGround
from requests_app.services import request_line_complete
from requests_app.services.communications import communication_render

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]

# What a requester must never read. Kept here, next to the test that enforces it.
INTERNAL_TERMS = [
    "rows",
    " row ",
    "django",
    "simple-history",
    "REGULATIONS",
    "§",
    "None",
    "{{",
    "{%",
    "}}",
    "back office",
    "data map",
    "table",
    "Retention rule '",
    "Legal hold '",
    "(pk=",
    "[]",
    "stated in the reason",
]
# Blanks a missing value leaves behind.
EMPTY_PLACEHOLDERS = ["  ,", " ,", " .", "()", "( ", ": .", ":\n\n\n", "\n\n\n", " : ", "your  ", "Dear ,"]


def _table_names() -> list[re.Pattern]:
    """Table names of the data map as identifiers: ``wallet_transactions`` anywhere; a table named like a
    plain word ("invoices") only where a letter would print it as a table ("invoices (3 rows)", "invoices:")."""
    patterns = []
    for name in MappedTable.objects.values_list("table_name", flat=True).distinct():
        if re.fullmatch(r"[a-z]+", name):
            patterns.append(re.compile(rf"\b{re.escape(name)}\b\s*[(:]"))
        else:
            patterns.append(re.compile(rf"\b{re.escape(name)}\b"))
    return patterns


def assert_written_for_people(text: str, where: str) -> None:
    for term in INTERNAL_TERMS:
        assert term not in text, f"{where}: {term!r} in\n{text}"
    for blank in EMPTY_PLACEHOLDERS:
        assert blank not in text, f"{where}: blank {blank!r} in\n{text}"
    for pattern in _table_names():
        assert not pattern.search(text), f"{where}: table name {pattern.pattern!r} in\n{text}"
    assert not re.search(r"\b1 [a-z]+s\b(?<!\bis\b)", text.replace("1 download", "")), f"{where}: plural after 1"
    assert settings.PRIVACY_TEAM_SIGNATURE in text and settings.PRIVACY_CONTACT_EMAIL in text, where


@pytest.fixture
def answered(platform, open_request, officer, django_capture_on_commit_callbacks):
    """A real access + erasure run (invoices kept under the VAT rule): the outcome texts and letter context
    the workers produce."""
    request = open_request(platform.subject, ["access", "erasure"], requester_name="Ada Lovelace")
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request, kind="erasure"), actor=officer)
    request.refresh_from_db()
    return request


def test_the_answer_says_what_was_done_and_kept_in_plain_words_with_the_link_and_its_expiry(answered):
    context = letter_context(answered)
    subject, body = communication_render(request=answered, template="partial_or_refusal", context=context)
    erasure = answered.lines.get(right__slug="erasure")
    assert erasure.outcome == Outcome.PARTIALLY_FULFILLED
    assert "We erased your " in erasure.outcome_reason and "account and identity data" in erasure.outcome_reason
    assert "We kept your billing and transaction data because invoices are VAT records" in erasure.outcome_reason
    # What we kept, why and until when; the back office's record of the request too.
    assert "Your billing and transaction data (in Studio platform): invoices are VAT records, which the law" in body
    assert "(VAT Notice 700/21); we keep it for 6 years after the end of the financial year it belongs to." in body
    # The access answer carries the link and its expiry.
    link = DownloadLink.objects.get(bundle__request=answered)
    assert context["download_url"] in body and "/data-export/" in context["download_url"]
    assert f"until {link.expires_at:%-d %B %Y}" in body
    assert_written_for_people(subject + "\n" + body, "partial_or_refusal")


def test_the_answer_lists_what_a_manual_system_kept(answered, officer):
    from fulfilment.selectors import kept_items

    kept = kept_items(answered)
    assert kept and all(item["what"] and item["why"] and item["until"] for item in kept)
    assert any("invoices are VAT records" in item["why"] for item in kept)


def test_every_letter_and_email_reads_as_written_for_the_requester_in_every_regime(
    answered, platform, open_request, officer, django_capture_on_commit_callbacks
):
    context = letter_context(answered)
    export_reason = answered.lines.get(right__slug="access").outcome_reason
    erasure_reason = answered.lines.get(right__slug="erasure").outcome_reason
    regimes = list(Regime.objects.prefetch_related("rights"))
    assert len(regimes) >= 3
    rendered = 0
    for regime in regimes:
        rights = [right.slug for right in regime.rights.all()]
        request = open_request(platform.subject, rights, regime=regime.code, requester_name="Ada Lovelace")
        extra = {"reason": "We are still waiting for the records of a team that holds part of your data."}
        for template in [
            LetterTemplate.ACKNOWLEDGEMENT,
            LetterTemplate.IDENTITY_REQUEST,
            LetterTemplate.CLARIFICATION_REQUEST,
            LetterTemplate.EXTENSION_NOTICE,
        ]:
            subject, body = communication_render(request=request, template=template, context=extra)
            assert_written_for_people(subject + "\n" + body, f"{regime.code} {template}")
            rendered += 1
        lines = list(request.lines.select_related("right"))
        for index, line in enumerate(lines):
            if index == 0:
                request_line_complete(
                    line=line,
                    outcome=Outcome.PARTIALLY_FULFILLED,
                    reason=erasure_reason,
                    refusal_ground=RefusalGround.LEGAL_OBLIGATION,
                    actor=officer,
                )
            else:
                request_line_complete(line=line, outcome=Outcome.FULFILLED, reason=export_reason, actor=officer)
        for template in [LetterTemplate.COMPLETION, LetterTemplate.PARTIAL_OR_REFUSAL]:
            subject, body = communication_render(request=request, template=template, context=context)
            assert_written_for_people(subject + "\n" + body, f"{regime.code} {template}")
            assert context["download_url"] in body
            rendered += 1
    assert rendered == 6 * len(regimes)

    # The emails the workers send the requester: the download link, and the one-time code.
    bundle = ExportBundle.objects.get(request=answered)
    mail.outbox.clear()
    link, _ = download_link_create(bundle=bundle, actor=officer, method=DownloadLink.Method.CODE, send_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        download_code_send(link=link, client="test")
    assert [m for m in mail.outbox if m.to == [answered.requester_email]], "the code email was not sent"
    _email_link(link.pk)
    emails = [m for m in mail.outbox if m.to == [answered.requester_email]]
    assert {("code" in m.subject.lower()) for m in emails} == {True, False}
    for message in emails:
        assert_written_for_people(message.subject + "\n" + message.body, message.subject)
