"""The erasure ledger and ``manage.py replay_erasures``: after a restore, erased subjects are erased again."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fulfilment.models import ErasureLedgerEntry, FulfilmentPlan
from fulfilment.services import fulfilment_start, plan_approve
from fulfilment.services.common import identifier_hmac
from tests.support.platform import platform_restore, platform_state

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _erase(request, officer, capture):
    with capture(execute=True):
        fulfilment_start(request=request, actor=officer)
    with capture(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request, kind="erasure"), actor=officer)


def _replay(*args) -> str:
    out = StringIO()
    call_command("replay_erasures", *args, stdout=out)
    return out.getvalue()


def test_the_ledger_keeps_keyed_hashes_of_the_identifiers_never_the_identifiers(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    entry = ErasureLedgerEntry.objects.get(request_reference=request.reference)
    assert entry.account_hmac == identifier_hmac("account", platform.subject.account_ref)
    assert entry.email_hmac == identifier_hmac("email", platform.subject.email.upper())
    stored = " ".join(str(value) for value in ErasureLedgerEntry.objects.values_list().get(pk=entry.pk))
    assert platform.subject.email not in stored and f"'{platform.subject.account_ref}'" not in stored


def test_replay_after_a_restore_erases_the_subject_again_exactly_as_before(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    before = platform_state()
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    erased = platform_state()
    assert erased != before

    platform_restore(before)  # the backup predates the erasure
    assert platform_state() == before
    dry = _replay("--since", timezone.localdate().isoformat(), "--dry-run")
    assert "1 subjects found again and would erase again" in dry
    assert platform_state() == before

    output = _replay("--since", timezone.localdate().isoformat())
    assert "studio-platform: 1 erasures recorded, 1 subjects found again and erased again" in output
    assert platform_state() == erased
    assert ErasureLedgerEntry.objects.get(request_reference=request.reference).replays == 1

    again = _replay("--since", timezone.localdate().isoformat())
    assert "(0 rows deleted, 0 masked)" in again
    assert platform_state() == erased


def test_replay_leaves_other_subjects_and_older_erasures_alone(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    before = platform_state()
    request = open_request(platform.subject, ["erasure"])
    _erase(request, officer, django_capture_on_commit_callbacks)
    platform_restore(before)
    tomorrow = timezone.localdate() + timezone.timedelta(days=1)
    with pytest.raises(CommandError, match="in the future"):
        _replay("--since", tomorrow.isoformat())
    ErasureLedgerEntry.objects.update(erased_at=timezone.now() - timezone.timedelta(days=30))
    output = _replay("--since", (timezone.localdate() - timezone.timedelta(days=7)).isoformat())
    assert "No erasure recorded since" in output
    assert platform_state() == before


def test_a_malformed_date_is_refused():
    with pytest.raises(CommandError, match="must be a date"):
        _replay("--since", "last tuesday")
