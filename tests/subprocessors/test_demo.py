"""The demo register: about a dozen vendors across the policy's categories, loaded idempotently."""

from io import StringIO

from django.core import mail

from subprocessors.demo import load_demo
from subprocessors.models import (
    ChangeNoticeDelivery,
    ChangeObjection,
    ExpiryReminder,
    ProcessingLocation,
    RegisterDigest,
    Subprocessor,
    SubprocessorChange,
)
from subprocessors.selectors import public_register, transfer_report


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Subprocessor,
            ProcessingLocation,
            SubprocessorChange,
            ChangeObjection,
            ChangeNoticeDelivery,
            ExpiryReminder,
            RegisterDigest,
        )
    }


def test_the_demo_loads_a_realistic_register_and_a_second_run_changes_nothing(officer):
    out = StringIO()
    load_demo(stdout=out)
    assert "Subprocessor register: 13 vendors created" in out.getvalue()
    first = counts()
    sent = len(mail.outbox)
    load_demo(stdout=StringIO())
    assert counts() == first
    assert len(mail.outbox) == sent  # nothing is sent twice

    assert set(Subprocessor.objects.values_list("category", flat=True)) == set(Subprocessor.Category.values)
    statuses = set(Subprocessor.objects.values_list("status", flat=True))
    assert statuses == {"proposed", "announced", "active", "retired"}
    assert SubprocessorChange.objects.filter(status="announced").count() == 3
    assert ChangeObjection.objects.filter(outcome="").count() == 1
    assert first["ChangeNoticeDelivery"] == 3 * 2  # three announced changes, two confirmed subscribers
    assert first["ExpiryReminder"] >= 2 and first["RegisterDigest"] == 1
    public = public_register()
    assert len(public["subprocessors"]) == 11  # proposed and retired vendors are not public
    assert transfer_report().gaps == []
