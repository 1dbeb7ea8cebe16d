"""The register queues its jobs through the outbox: a row of the change's transaction, naming the task and ids only."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs.models import PendingJob
from subprocessors.models import ChangeNoticeDelivery, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_announce, subprocessor_change_withdraw
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def _announce(sub, officer):
    return subprocessor_change_announce(
        subprocessor=sub,
        kind=SubprocessorChange.Kind.ADDITION,
        summary=f"Adding {sub}.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
    )


def test_announcing_a_change_queues_its_notices_with_the_change(proposed, officer):
    change = _announce(proposed, officer)
    job = PendingJob.objects.get()
    assert (job.task_name, job.args) == ("subprocessors.tasks.change_notices_send_task", [change.pk])


def test_an_announcement_rolled_back_queues_nothing(proposed, officer):
    with pytest.raises(RuntimeError), transaction.atomic():
        _announce(proposed, officer)
        assert PendingJob.objects.count() == 1
        raise RuntimeError("the officer's request failed after the announcement")
    assert not PendingJob.objects.exists() and not SubprocessorChange.objects.exists()


def test_withdrawing_a_change_people_were_told_of_queues_the_withdrawal_notices(proposed, officer):
    change = _announce(proposed, officer)
    ChangeNoticeDelivery.objects.create(change=change, subscriber=SubscriberFactory(), sent_at=timezone.now())
    subprocessor_change_withdraw(change=change, reason="Due diligence failed.", actor=officer)
    assert list(PendingJob.objects.order_by("pk").values_list("task_name", "args")) == [
        ("subprocessors.tasks.change_notices_send_task", [change.pk]),
        ("subprocessors.tasks.change_withdrawal_notices_send_task", [change.pk]),
    ]
