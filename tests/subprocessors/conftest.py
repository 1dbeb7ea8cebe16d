import importlib
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from compliance.models import DataCategory, ProcessingPurpose
from subprocessors.models import Subprocessor, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_activate, subprocessor_change_announce
from tests.support.factories import DPAFactory, LocationFactory, SubprocessorFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def baseline(baseline):
    """The policy baseline, and the adequacy list its migration loads (a transactional test's flush empties it)."""
    from django.apps import apps

    from subprocessors.models import AdequacyDecision

    if not AdequacyDecision.objects.exists():
        importlib.import_module("subprocessors.migrations.0002_adequacy_list").load(apps, None)


@pytest.fixture
def categories(baseline):
    return {c.slug: c for c in DataCategory.objects.all()}


@pytest.fixture
def purposes(baseline):
    return {p.slug: p for p in ProcessingPurpose.objects.all()}


@pytest.fixture
def proposed(categories, purposes):
    """A proposed vendor ready to be announced: a location, data categories and a signed DPA."""
    sub = SubprocessorFactory(
        legal_name="Nimbus Hosting Ltd",
        trading_name="Nimbus",
        slug="nimbus",
        data_categories=[categories["account-identity"], categories["api-usage"]],
        purposes=[purposes["reliability"]],
    )
    LocationFactory(subprocessor=sub, country="IE")
    DPAFactory(subprocessor=sub)
    return sub


def make_active(sub: Subprocessor, officer) -> Subprocessor:
    """Announce the vendor's addition 30 days ago and let it take effect today."""
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        change = subprocessor_change_announce(
            subprocessor=sub,
            kind=SubprocessorChange.Kind.ADDITION,
            summary=f"Adding {sub}.",
            effective_on=timezone.localdate() + timedelta(days=30),
            actor=officer,
        )
    subprocessor_change_activate(change=change, actor=officer)
    sub.refresh_from_db()
    return sub


@pytest.fixture
def active(proposed, officer):
    return make_active(proposed, officer)
