"""Announcing and withdrawing a subprocessor change: a summary first (who is emailed), an addition without a
signed DPA refused before anything goes out, and a withdrawal that is recorded, told, and never a deletion."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from subprocessors.models import ChangeNoticeDelivery, DataProcessingAgreement, Subprocessor, SubprocessorChange
from subprocessors.services.notices import change_notices_send_pending
from tests.support.factories import SubscriberFactory

ADD = "admin:subprocessors_subprocessorchange_add"
LIST = "admin:subprocessors_subprocessorchange_changelist"


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


@pytest.fixture
def subscribers(db):
    return [
        SubscriberFactory(email="dpo@acme.example"),
        SubscriberFactory(email="privacy@globex.example"),
        SubscriberFactory(email="pending@initech.example", confirmed_at=None),
        SubscriberFactory(email="gone@hooli.example", unsubscribed_at=timezone.now()),
    ]


def _post(sub, **extra):
    return {
        "subprocessor": sub.pk,
        "kind": "addition",
        "summary": "Adding Nimbus to host backups in Ireland.",
        "effective_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        **extra,
    }


@pytest.mark.usefixtures("eager_tasks")
def test_announcing_shows_who_will_be_emailed_first_and_sends_only_when_confirmed(
    officer_client, proposed, subscribers, django_capture_on_commit_callbacks
):
    page = officer_client.post(reverse(ADD), _post(proposed))
    assert page.status_code == 200
    html = page.content.decode()
    assert "2 subscribers will be emailed" in html
    assert "dpo@acme.example" in html and "privacy@globex.example" in html
    assert "pending@initech.example" not in html and "gone@hooli.example" not in html
    assert "Adding Nimbus to host backups in Ireland." in html and "Nothing has been sent yet" in html
    assert not SubprocessorChange.objects.exists() and mail.outbox == []
    # The form's values travel with the confirmation, and "back" keeps them.
    assert 'name="_confirm"' in html and f'name="subprocessor" value="{proposed.pk}"' in html
    assert "summary=Adding+Nimbus" in html

    with django_capture_on_commit_callbacks(execute=True):
        done = officer_client.post(reverse(ADD), _post(proposed, _confirm="1", _save="1"))
    assert done.status_code == 302
    change = SubprocessorChange.objects.get()
    assert change.status == SubprocessorChange.Status.ANNOUNCED
    assert sorted(m.to[0] for m in mail.outbox) == ["dpo@acme.example", "privacy@globex.example"]


def test_an_addition_without_a_signed_dpa_is_refused_before_anything_goes_out(
    officer_client, proposed, subscribers, django_capture_on_commit_callbacks
):
    DataProcessingAgreement.objects.filter(subprocessor=proposed).delete()
    with django_capture_on_commit_callbacks(execute=True):
        for extra in ({}, {"_confirm": "1", "_save": "1"}):  # neither the summary nor a forced confirm gets through
            response = officer_client.post(reverse(ADD), _post(proposed, **extra))
            assert response.status_code == 200
            html = response.content.decode()
            assert "has no signed DPA" in html and "Nothing was sent" in html
            assert "subscribers will be emailed" not in html
            assert 'value="Adding Nimbus to host backups in Ireland."' in html or "Adding Nimbus to host" in html
    assert not SubprocessorChange.objects.exists() and mail.outbox == []
    proposed.refresh_from_db()
    assert proposed.status == Subprocessor.Status.PROPOSED


@pytest.mark.usefixtures("eager_tasks")
def test_withdrawing_tells_those_who_were_told_once_and_keeps_the_change(
    officer_client, proposed, subscribers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        officer_client.post(reverse(ADD), _post(proposed, _confirm="1", _save="1"))
    change = SubprocessorChange.objects.get()
    SubscriberFactory(email="late@newco.example")  # subscribed after the announcement went out: not told
    mail.outbox.clear()

    summary = officer_client.post(reverse(LIST), {"action": "withdraw", "_selected_action": [change.pk]})
    html = summary.content.decode()
    assert "2 (those the announcement reached)" in html and "never deleted" in html
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        officer_client.post(
            reverse(LIST),
            {"action": "withdraw", "_selected_action": [change.pk], "apply": "1", "reason": "Vendor declined the DPA."},
        )
    change.refresh_from_db()
    assert change.status == SubprocessorChange.Status.WITHDRAWN and change.withdrawal_reason
    assert sorted(m.to[0] for m in mail.outbox) == ["dpo@acme.example", "privacy@globex.example"]
    letter = mail.outbox[0]
    assert "withdrawn" in letter.subject and "Vendor declined the DPA." in letter.body
    assert "will not take effect" in letter.body
    # The beat job sends nothing twice.
    change_notices_send_pending()
    assert len(mail.outbox) == 2
    assert ChangeNoticeDelivery.objects.filter(change=change, withdrawal_sent_at__isnull=False).count() == 2
    page = officer_client.get(reverse("admin:subprocessors_subprocessorchange_change", args=[change.pk]))
    assert "withdrawal: 2 told" in page.content.decode()


def test_a_change_withdrawn_before_its_notices_went_out_emails_nobody(
    officer_client, proposed, subscribers, django_capture_on_commit_callbacks, officer
):
    from subprocessors.services.changes import subprocessor_change_announce, subprocessor_change_withdraw

    change = subprocessor_change_announce(  # outside a captured commit: the notices never ran
        subprocessor=proposed,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
    )
    with django_capture_on_commit_callbacks(execute=True):
        subprocessor_change_withdraw(change=change, reason="Changed our mind.", actor=officer)
    change_notices_send_pending()
    assert mail.outbox == []


def test_nobody_can_delete_an_announced_change(officer_client, proposed, officer):
    from subprocessors.services.changes import subprocessor_change_announce

    change = subprocessor_change_announce(
        subprocessor=proposed,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
    )
    url = reverse("admin:subprocessors_subprocessorchange_delete", args=[change.pk])
    assert officer_client.get(url).status_code == 403
    assert officer_client.post(url, {"post": "yes"}).status_code == 403
    assert SubprocessorChange.objects.filter(pk=change.pk).exists()
    # The officer can still open it (the positive side of the refusal).
    assert (
        officer_client.get(reverse("admin:subprocessors_subprocessorchange_change", args=[change.pk])).status_code
        == 200
    )
