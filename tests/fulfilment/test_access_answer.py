"""The access answer in the bundle's index.html gives what Art. 15(1)-(2) requires, and only the rights the
request's regimes grant (a right the law then refuses would mislead the requester)."""

import re

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.datamap import datamap_import_file
from compliance.models import MappedTable, ProcessingActivity, RegimeRight
from fulfilment.selectors import access_answer, request_regimes
from requests_app.services import rights_request_open
from subprocessors.models import ProcessingLocation

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

ALL_RIGHTS = ["Access", "Rectification", "Erasure", "Restriction", "Objection", "Portability", "Withdraw consent"]


@pytest.fixture
def answer_setup(baseline, vendors):
    datamap_import_file(settings.BASE_DIR / "sample_platform" / "datamap.yaml")
    ProcessingLocation.objects.create(
        subprocessor=vendors["inference"], country="US", mechanism="eu_scc", scc_module="2", description="inference"
    )
    ProcessingLocation.objects.create(
        subprocessor=vendors["helpdesk"], country="IE", mechanism="none_required", description="hosting"
    )
    return list(MappedTable.objects.filter(system__slug="studio-platform").prefetch_related("columns"))


def _index(regime: str | None, officer, tables, **residence) -> tuple[str, object]:
    request = rights_request_open(
        requester_name="Ana Souza",
        requester_email=f"ana.{regime}@example.com",
        account_ref="",
        regime=regime,
        rights=["access"],
        actor=officer,
        **residence,
    )
    html = render_to_string(
        "fulfilment/bundle/index.html",
        {
            "request": request,
            "entries": [],
            "answer": access_answer(request, tables),
            "generated_at": timezone.now(),
            "site_name": settings.SITE_NAME,
            "contact_email": settings.PRIVACY_CONTACT_EMAIL,
        },
    )
    return html, request


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def _offered(html: str) -> list[str]:
    return re.findall(r"<dt>([^<]+)</dt>", _section(html, "your-rights", "complaints"))


def _every_art15_item_is_there(html: str) -> None:
    for anchor in [
        "purposes",
        "categories",
        "recipients",
        "retention",
        "sources",
        "automated-decisions",
        "transfers",
        "your-rights",
        "complaints",
    ]:
        assert f'id="{anchor}"' in html, anchor
    assert "Request routing (Contract performance)" in html  # a purpose with its legal basis
    assert "Billing and transaction data" in _section(html, "categories", "recipients")
    # Where data not collected from the person comes from: named third parties from the data map.
    sources = _section(html, "sources", "automated-decisions")
    assert "Identity provider" in sources and "Payment processor" in sources and "Their use of the service" in sources
    assert "no decisions about you based solely on automated processing" in html
    # Transfers outside the UK/EEA: the country and the safeguard from the register; an EEA location is not one.
    transfers = _section(html, "transfers", "your-rights")
    assert "United States of America" in transfers and "EU SCCs (2021/914)" in transfers and "Inferco" in transfers
    assert "Ireland" not in transfers
    # CCPA: categories of third parties over the past 12 months.
    assert "AI model routing and inference" in _section(html, "recipients", "retention")


def test_a_uk_requester_gets_every_item_every_gdpr_right_and_the_ico(answer_setup, officer):
    html, request = _index("uk_gdpr", officer, answer_setup)
    _every_art15_item_is_there(html)
    assert _offered(html) == ALL_RIGHTS
    assert "Ask us to stop using your data while keeping it" in html  # how to use the right to restriction
    complaints = html[html.index('id="complaints"') :]
    assert "Information Commissioner" in complaints and "https://ico.org.uk/make-a-complaint/" in complaints
    assert request_regimes(request) == [request.regime]


def _granted(request) -> set[str]:
    """The rights every regime governing the request grants (main records each applicable regime)."""
    regimes = request_regimes(request)
    return set(RegimeRight.objects.filter(regime__in=regimes).values_list("right__name", flat=True))


def test_a_brazilian_requester_is_offered_what_their_regimes_grant_and_complains_to_the_anpd(answer_setup, officer):
    html, request = _index("lgpd", officer, answer_setup)
    _every_art15_item_is_there(html)
    assert request_regimes(request)[0].code == "lgpd"
    # The request is governed by the LGPD and by every other regime that applies to it (the controller's
    # own, for one): what is offered is the union of what they grant, no more.
    assert set(_offered(html)) == _granted(request)
    assert "Objection" in _offered(html) and "Erasure" in _offered(html)
    assert "ANPD" in html[html.index('id="complaints"') :]


def test_a_quebec_requester_is_offered_only_what_their_regimes_grant_and_complains_to_the_cai(answer_setup, officer):
    html, request = _index("quebec", officer, answer_setup)
    _every_art15_item_is_there(html)
    assert request_regimes(request)[0].code == "quebec"
    offered = _offered(html)
    assert set(offered) == _granted(request) and "Access" in offered
    complaints = html[html.index('id="complaints"') :]
    assert "Commission d&#x27;accès à l&#x27;information" in complaints and "within 30 days of our answer" in complaints


def test_a_californian_under_the_uk_controller_gets_both_laws_rights_and_routes(answer_setup, officer):
    html, request = _index(None, officer, answer_setup, requester_country="US", requester_region="CA")
    _every_art15_item_is_there(html)
    assert {regime.code for regime in request_regimes(request)} == {"uk_gdpr", "ccpa"}
    offered = _offered(html)
    # The union of what UK GDPR and the CCPA grant: restriction (UK GDPR) and opting out of sale (CCPA) both.
    assert set(offered) == _granted(request) and "Restriction" in offered and "Opt-out of sale or sharing" in offered
    assert "no identity check is needed" in _section(html, "your-rights", "complaints")
    complaints = html[html.index('id="complaints"') :]
    assert "Information Commissioner" in complaints and "California Privacy Protection Agency" in complaints
    # Courts only under the law that gives a private action: UK GDPR, not the CCPA.
    assert "Under UK GDPR you may also seek a remedy through the courts." in complaints
    # The CCPA's extra items: the categories of sources and of third parties over the past 12 months.
    assert "Payment processor" in _section(html, "sources", "automated-decisions")
    assert "Over the past 12 months" in _section(html, "recipients", "retention")


def test_an_activity_making_automated_decisions_is_explained_in_plain_words(answer_setup, officer):
    activity = ProcessingActivity.objects.get(name="Fraud prevention")
    activity.automated_decisions = True
    activity.automated_decision_logic = "A top-up from a card reported stolen is refused automatically."
    activity.full_clean()
    activity.save()
    html, _request = _index("uk_gdpr", officer, answer_setup)
    decisions = _section(html, "automated-decisions", "transfers")
    assert "Fraud prevention: A top-up from a card reported stolen is refused automatically." in decisions
    assert "no decisions about you" not in decisions


@pytest.mark.parametrize(
    ("regime", "residence", "laws", "right"),
    [
        ("uk_gdpr", {}, "UK GDPR", "restriction"),
        (None, {"requester_country": "US", "requester_region": "CA"}, "CCPA / CPRA", "opt-out of sale or sharing"),
        ("lgpd", {"requester_country": "BR"}, "Brazil LGPD", "objection"),
        ("quebec", {"requester_country": "CA", "requester_region": "QC"}, "Quebec Law 25", "access"),
    ],
)
def test_the_letter_gives_the_access_answer_in_plain_words(answer_setup, officer, regime, residence, laws, right):
    _html, request = _index(regime, officer, answer_setup, **residence)
    text = render_to_string(
        "requests_app/letters/_access_answer.txt",
        {
            "access": access_answer(request, answer_setup),
            "request": request,
            "controller": settings.CONTROLLER_NAME,
            "contact_email": settings.PRIVACY_CONTACT_EMAIL,
        },
    )
    for heading in [
        "- Why we use it: ",
        "- What we hold: ",
        "- Where it comes from: you (",
        "- Who receives it: ",
        "- Outside the UK and the EEA: United States of America (Inferco, under EU SCCs (2021/914)",
        "- How long we keep it: ",
        "- Automated decisions: we make no decisions about you",
    ]:
        assert heading in text, heading
    held = text[text.index("- What we hold: ") :].splitlines()[0]
    assert "account and identity data" in held and "billing and transaction data" in held
    assert "Payment processor (billing and transaction data)" in text
    rights = text[text.index("- Your rights under ") :]
    assert laws in rights and right in rights
    offered = {item.right.name.lower() for item in access_answer(request, answer_setup)["rights_offered"]}
    assert offered == {name.lower() for name in _granted(request)}
    assert "table" not in text and "rows" not in text and "None" not in text
