"""Letters give each governing regime's complaint route as regime data (REGULATIONS §1a, §5): the authority,
the days the law gives to apply (Quebec: 30) and the provision a refusal relies on (Quebec s.34); the courts
only where the law gives a private action; and a CCPA acknowledgement describes verification (11 CCR §7021(a))."""

import pytest

from compliance.models import Regime
from requests_app.models import IdentityMethod, IdentityOutcome, LetterTemplate, RefusalGround
from requests_app.services import communication_render, request_line_complete, rights_request_identity_record

pytestmark = pytest.mark.django_db

QUEBEC_PROVISION = "section 30 of the Act respecting the protection of personal information in the private sector"


def _refuse(request, officer, slug, ground=RefusalGround.IDENTITY_NOT_VERIFIED):
    line = request.lines.get(right__slug=slug)
    request_line_complete(
        line=line, outcome="refused", reason="We could not match you to the data.", refusal_ground=ground, actor=officer
    )


def _fulfil_others(request, officer, refused):
    rights_request_identity_record(
        request=request, method=IdentityMethod.ACCOUNT_LOGIN, outcome=IdentityOutcome.VERIFIED, actor=officer
    )
    for line in request.lines.exclude(right__slug=refused):
        request_line_complete(line=line, outcome="fulfilled", reason="", actor=officer)


def test_a_quebec_refusal_names_the_provision_the_commission_and_the_30_days(open_request, officer):
    request = open_request(regime="quebec", rights=["access"], requester_country="CA", requester_region="QC")
    _refuse(request, officer, "access")
    _subject, body = communication_render(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL)
    assert f"Under Quebec Law 25, our answer on access relies on {QUEBEC_PROVISION}." in body
    assert "- under Quebec Law 25, to the Commission d'accès à l'information du Québec" in body
    assert "(https://www.cai.gouv.qc.ca/), within 30 days of receiving this answer" in body
    # The ICO has no 30-day limit; both laws give a remedy in court.
    assert (
        "- under UK GDPR, to the Information Commissioner's Office (ICO) (https://ico.org.uk/make-a-complaint/)" in body
    )
    assert "you may also seek a remedy through the courts" in body


def test_the_route_is_regime_data_the_team_can_correct(open_request, officer):
    Regime.objects.filter(code="quebec").update(
        complaint_within_days=45, refusal_provisions={"identity_not_verified": "section 99 of a corrected text"}
    )
    request = open_request(regime="quebec", rights=["access"], requester_country="CA", requester_region="QC")
    _refuse(request, officer, "access")
    _subject, body = communication_render(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL)
    assert "within 45 days of receiving this answer" in body and "relies on section 99 of a corrected text" in body
    assert "within 30 days" not in body


def test_a_refusal_under_a_us_state_law_alone_says_nothing_of_courts(open_request, officer):
    # Opting out of sale or sharing is granted by the CCPA alone, so only its route applies.
    request = open_request(regime="ccpa", rights=["access", "opt_out"], requester_country="US", requester_region="CA")
    _fulfil_others(request, officer, "opt_out")
    _refuse(request, officer, "opt_out", ground=RefusalGround.OTHER_EXEMPTION)
    _subject, body = communication_render(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL)
    assert "You have the right to complain to the California Privacy Protection Agency (https://cppa.ca.gov/)." in body
    assert "courts" not in body and "Information Commissioner" not in body


def test_an_eu_requester_is_told_which_authority_to_choose(open_request, officer):
    request = open_request(regime="eu_gdpr", rights=["erasure"], requester_country="IE")
    _refuse(request, officer, "erasure", ground=RefusalGround.OTHER_EXEMPTION)
    _subject, body = communication_render(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL)
    assert (
        "the data protection supervisory authority of your EU/EEA member state (the country where you live or "
        "work, or where you think the law was broken)" in body
    )
    assert "Under EU GDPR and UK GDPR you may also seek a remedy through the courts." in body


def test_a_ccpa_acknowledgement_describes_how_identity_is_verified(open_request):
    californian = open_request(regime="ccpa", rights=["access"], requester_country="US", requester_region="CA")
    _subject, body = communication_render(request=californian, template=LetterTemplate.ACKNOWLEDGEMENT)
    assert "How we confirm your identity: Before we give you your data, correct it or delete it" in body
    assert "needs no verification" in body
    briton = open_request(rights=["access"], email="bea@example.com", requester_country="GB")
    _subject, body = communication_render(request=briton, template=LetterTemplate.ACKNOWLEDGEMENT)
    assert "How we confirm your identity" not in body and "we will tell you" in body
