import datetime as dt

import pytest
from django.utils import timezone

from requests_app.models import IdentityMethod, IdentityOutcome
from requests_app.services import rights_request_identity_record, rights_request_open
from tests.support.factories import RightsRequestFactory


def aware(year, month, day, hour=10, minute=0):
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))


@pytest.fixture
def open_request(baseline, agent):
    """Log a request as the support agent: ``open_request(regime="uk_gdpr", rights=["access"], ...)``."""

    def make(regime="uk_gdpr", rights=("access",), received_at=None, email="ana.silva@example.com", **extra):
        return RightsRequestFactory(
            requester_name=extra.pop("requester_name", "Ana Silva"),
            requester_email=email,
            regime=regime,
            rights=rights,
            received_at=received_at,
            channel=extra.pop("channel", "email"),
            actor=extra.pop("actor", agent),
            **extra,
        )

    return make


@pytest.fixture
def verified(officer):
    def verify(request):
        return rights_request_identity_record(
            request=request, method=IdentityMethod.ACCOUNT_LOGIN, outcome=IdentityOutcome.VERIFIED, actor=officer
        )

    return verify


@pytest.fixture
def refused_request(baseline, agent, officer):
    """A US requester's request, answered with a refusal: ``refused_request(region="VA", rights=[...])``.

    The lines in ``refuse`` (all by default) are refused, the others fulfilled; the refusal letter is sent.
    """
    from requests_app.models import LetterTemplate
    from requests_app.services import communication_send, request_line_complete

    def make(region="VA", rights=("erasure",), refuse=None, email="vera.hill@example.com", **extra):
        request = rights_request_open(
            requester_name="Vera Hill",
            requester_email=email,
            requester_country="US",
            requester_region=region,
            rights=list(rights),
            actor=agent,
            **extra,
        )
        rights_request_identity_record(
            request=request, method=IdentityMethod.ACCOUNT_LOGIN, outcome=IdentityOutcome.VERIFIED, actor=officer
        )
        for line in request.lines.select_related("right"):
            refused = refuse is None or line.right.slug in refuse
            request_line_complete(
                line=line,
                outcome="refused" if refused else "fulfilled",
                reason="Kept while a fraud investigation on the account is open." if refused else "",
                actor=officer,
            )
        communication_send(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL, actor=officer)
        request.refresh_from_db()
        return request

    return make
