"""The appeal letters read as written for the requester too (issue 11: every template, every regime): for
each law with an appeal process, the acknowledgement of the appeal, the extension notice where the law
allows one, and the decision, checked with the same list of internal terms and blanks as the other
letters (``tests/fulfilment/test_letters.py``). With that test, every letter template is covered."""

import pytest

from compliance.models import Regime
from requests_app.models import APPEAL_LETTERS, Communication, LetterTemplate
from requests_app.services import appeal_decide, appeal_extend, appeal_open
from tests.fulfilment.test_letters import assert_written_for_people

pytestmark = pytest.mark.django_db


def test_every_appeal_letter_reads_as_written_for_the_requester_under_every_law_with_appeals(
    officer, agent, refused_request
):
    regimes = list(Regime.objects.filter(appeal_period__isnull=False).exclude(territory_region=""))
    assert len(regimes) >= 3
    seen = set()
    for number, regime in enumerate(regimes):
        request = refused_request(
            region=regime.territory_region, rights=["access", "erasure"], email=f"appellant{number}@example.com"
        )
        appeal = appeal_open(request=request, actor=agent)
        if regime.appeal_extension_period:
            appeal_extend(appeal=appeal, reason="Your account spans three organisations.", actor=officer)
        access = request.lines.get(right__slug="access")
        appeal_decide(
            appeal=appeal,
            outcome="partly_reversed",
            reason="A copy of your data can be given without the investigation file.",
            reversed_lines=[access],
            actor=officer,
        )
        letters = list(Communication.objects.filter(appeal=appeal))
        assert {letter.template for letter in letters} >= {
            LetterTemplate.APPEAL_RECEIVED,
            LetterTemplate.APPEAL_DECISION,
        }, regime.code
        for letter in letters:
            assert_written_for_people(letter.subject + "\n" + letter.body, f"{regime.code} {letter.template}")
            seen.add(letter.template)
    assert seen == set(APPEAL_LETTERS)
    # The other letters are rendered for every regime by tests/fulfilment/test_letters.py.
    assert set(LetterTemplate) - set(APPEAL_LETTERS) == {
        LetterTemplate.ACKNOWLEDGEMENT,
        LetterTemplate.IDENTITY_REQUEST,
        LetterTemplate.CLARIFICATION_REQUEST,
        LetterTemplate.EXTENSION_NOTICE,
        LetterTemplate.COMPLETION,
        LetterTemplate.PARTIAL_OR_REFUSAL,
    }
