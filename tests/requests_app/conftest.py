import datetime as dt

import pytest
from django.utils import timezone

from requests_app.models import IdentityMethod, IdentityOutcome
from requests_app.services import rights_request_identity_record
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
