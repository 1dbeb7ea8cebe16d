"""The dashboard's register warnings (issue 11): each one links to the list of the vendors behind it, and an
overdue review stands out from one merely due."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from subprocessors.models import Subprocessor
from tests.support.factories import AttestationFactory, DPAFactory, SubprocessorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def register(baseline):
    today = timezone.localdate()
    active = {"status": Subprocessor.Status.ACTIVE}
    vendors = {
        "overdue": SubprocessorFactory(trading_name="Overdue Review Co", **active),
        "due": SubprocessorFactory(trading_name="Review Soon Co", **active),
        "expiring": SubprocessorFactory(trading_name="Expiring Audit Co", **active),
        "unsigned": SubprocessorFactory(trading_name="Unsigned Co", **active),
        "fine": SubprocessorFactory(trading_name="All Fine Co", **active),
    }
    DPAFactory(subprocessor=vendors["overdue"], review_on=today - timedelta(days=10))
    DPAFactory(subprocessor=vendors["due"], review_on=today + timedelta(days=10))
    DPAFactory(subprocessor=vendors["expiring"])
    AttestationFactory(subprocessor=vendors["expiring"], issued_on=today - timedelta(days=360))
    DPAFactory(subprocessor=vendors["fine"])
    return vendors


def _warning(page: str, words: str) -> tuple[str, str]:
    """The <li> of the warning that says ``words``, and its link."""
    item = next(li for li in re.findall(r"<li(?:\s[^>]*)?>.*?</li>", page, re.S) if words in li)
    return item, unescape(re.search(r'href="([^"]+)"', item).group(1))


@pytest.mark.parametrize(
    ("words", "vendor"),
    [
        ("DPA review overdue", "overdue"),
        ("DPA review due within", "due"),
        ("attestation expiring", "expiring"),
        ("public subprocessor without a signed DPA", "unsigned"),
    ],
)
def test_each_register_warning_links_to_the_vendors_behind_it(client, officer, register, words, vendor):
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    item, link = _warning(page, words)
    assert item.startswith('<li class="sla-')
    listed = client.get(link).content.decode()
    assert register[vendor].trading_name in listed
    others = [v.trading_name for key, v in register.items() if key != vendor]
    assert not [name for name in others if name in listed], link


def test_an_overdue_review_stands_out_from_one_due_soon(client, officer, register):
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    overdue, _ = _warning(page, "DPA review overdue")
    due, _ = _warning(page, "DPA review due within")
    assert 'class="sla-overdue"' in overdue and "<strong>" in overdue
    assert 'class="sla-due_soon"' in due and "<strong>" not in due
