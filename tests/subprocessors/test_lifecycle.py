"""Proposed → announced → active → offboarding → retired, and every refusal on the way."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from subprocessors.models import ChangeObjection, Subprocessor, SubprocessorChange
from subprocessors.services.changes import (
    change_objection_record,
    change_objection_resolve,
    subprocessor_change_activate,
    subprocessor_change_announce,
    subprocessor_change_withdraw,
    subprocessor_changes_activate_due,
)
from subprocessors.services.register import (
    ALLOWED_TRANSITIONS,
    processing_location_save,
    subprocessor_proposal_drop,
    subprocessor_scope_check,
    subprocessor_transition,
)
from tests.support.factories import CustomerFactory, DPAFactory, LocationFactory, SubprocessorFactory

from .conftest import make_active

Status = Subprocessor.Status
Kind = SubprocessorChange.Kind


def announce(sub, officer, kind=Kind.ADDITION, days=30, **target):
    return subprocessor_change_announce(
        subprocessor=sub,
        kind=kind,
        summary="A change customers should know about.",
        effective_on=timezone.localdate() + timedelta(days=days),
        actor=officer,
        **target,
    )


def test_announcing_an_addition_makes_the_vendor_announced_and_it_becomes_active_on_the_effective_date(
    proposed, officer
):
    with time_machine.travel("2026-03-02 10:00 +00:00"):
        change = announce(proposed, officer)
        proposed.refresh_from_db()
        assert proposed.status == Status.ANNOUNCED
        assert change.announced_on.isoformat() == "2026-03-02"
        assert change.notice_days == 30
    with time_machine.travel("2026-04-01 09:00 +01:00"):
        subprocessor_change_activate(change=change, actor=officer)
    proposed.refresh_from_db()
    change.refresh_from_db()
    assert proposed.status == Status.ACTIVE
    assert proposed.active_since.isoformat() == "2026-04-01"
    assert change.status == SubprocessorChange.Status.EFFECTIVE
    # History records who did it.
    assert proposed.history.filter(status=Status.ACTIVE).first().history_user == officer


def test_activation_before_the_notice_period_ends_is_refused_with_the_days_left(proposed, officer):
    with time_machine.travel("2026-03-02 10:00 +00:00"):
        change = announce(proposed, officer)
    with time_machine.travel("2026-03-29 10:00 +01:00"), pytest.raises(ValidationError) as refused:
        subprocessor_change_activate(change=change, actor=officer)
    assert "The notice period runs until 1 April 2026 (3 days left)." in refused.value.messages
    proposed.refresh_from_db()
    assert proposed.status == Status.ANNOUNCED


def test_an_open_objection_holds_the_change_back_until_it_is_resolved(proposed, officer):
    customer = CustomerFactory(name="Globex Health GmbH")
    with time_machine.travel("2026-03-02 10:00 +00:00"):
        change = announce(proposed, officer)
        objection = change_objection_record(
            change=change,
            customer=customer,
            received_on=timezone.localdate(),
            grounds="Data must stay in the EEA.",
            actor=officer,
        )
    with time_machine.travel("2026-04-02 10:00 +01:00"):
        with pytest.raises(ValidationError) as refused:
            subprocessor_change_activate(change=change, actor=officer)
        assert "1 unresolved objection(s) from: Globex Health GmbH. Resolve them first." in refused.value.messages
        change_objection_resolve(
            objection=objection,
            outcome=ChangeObjection.Outcome.ACCOMMODATED,
            resolution="Processing confirmed in Ireland only.",
            actor=officer,
        )
        subprocessor_change_activate(change=change, actor=officer)
    proposed.refresh_from_db()
    assert proposed.status == Status.ACTIVE


def test_an_addition_without_a_signed_dpa_cannot_be_announced_nor_take_effect(categories, officer):
    sub = SubprocessorFactory(data_categories=[categories["support"]])
    LocationFactory(subprocessor=sub)
    with time_machine.travel("2026-03-02 10:00 +00:00"):
        # Refused before anything goes out (no notice is emailed about a vendor without a DPA).
        with pytest.raises(ValidationError, match="has no signed DPA"):
            announce(sub, officer)
        assert not SubprocessorChange.objects.exists()
        dpa = DPAFactory(subprocessor=sub)
        change = announce(sub, officer)
    dpa.delete()  # the DPA is withdrawn between announcement and the effective date
    with time_machine.travel("2026-04-05 10:00 +01:00"), pytest.raises(ValidationError) as refused:
        subprocessor_change_activate(change=change, actor=officer)
    assert any("No signed DPA" in message for message in refused.value.messages)


def test_an_addition_without_locations_or_data_categories_cannot_be_announced(officer, baseline):
    sub = SubprocessorFactory()
    with pytest.raises(ValidationError) as refused:
        announce(sub, officer)
    messages = refused.value.message_dict["subprocessor"]
    assert any("processing locations" in m for m in messages)
    assert any("data categories" in m for m in messages)
    assert not SubprocessorChange.objects.exists()
    sub.refresh_from_db()
    assert sub.status == Status.PROPOSED


def test_a_removal_takes_the_vendor_through_offboarding_to_retired(active, officer):
    removal = announce(active, officer, kind=Kind.REMOVAL)
    active.refresh_from_db()
    assert active.status == Status.OFFBOARDING
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        subprocessor_change_activate(change=removal, actor=officer)
    active.refresh_from_db()
    assert active.status == Status.RETIRED
    assert active.retired_on is not None


def test_withdrawing_an_addition_returns_the_vendor_to_proposed_and_closes_objections(proposed, officer):
    change = announce(proposed, officer)
    objection = change_objection_record(
        change=change, customer=CustomerFactory(), received_on=timezone.localdate(), grounds="No.", actor=officer
    )
    subprocessor_change_withdraw(change=change, reason="Vendor failed due diligence.", actor=officer)
    proposed.refresh_from_db()
    objection.refresh_from_db()
    change.refresh_from_db()
    assert proposed.status == Status.PROPOSED
    assert change.status == SubprocessorChange.Status.WITHDRAWN
    assert change.withdrawal_reason == "Vendor failed due diligence."
    assert objection.outcome == ChangeObjection.Outcome.CHANGE_WITHDRAWN


def test_withdrawing_a_removal_keeps_the_vendor_active(active, officer):
    removal = announce(active, officer, kind=Kind.REMOVAL)
    subprocessor_change_withdraw(change=removal, reason="Contract renewed.", actor=officer)
    active.refresh_from_db()
    assert active.status == Status.ACTIVE


def test_withdrawal_needs_a_reason_and_an_announced_change(proposed, officer):
    change = announce(proposed, officer)
    with pytest.raises(ValidationError, match="Give the reason"):
        subprocessor_change_withdraw(change=change, reason="  ", actor=officer)
    subprocessor_change_withdraw(change=change, reason="Changed our mind.", actor=officer)
    with pytest.raises(ValidationError, match="Only an announced change can be withdrawn"):
        subprocessor_change_withdraw(change=change, reason="Again.", actor=officer)


def test_an_effective_or_withdrawn_change_cannot_take_effect_again(active, officer):
    change = active.changes.get()
    with pytest.raises(ValidationError, match="Only an announced change can take effect"):
        subprocessor_change_activate(change=change, actor=officer)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.PROPOSED, Status.ACTIVE),
        (Status.PROPOSED, Status.OFFBOARDING),
        (Status.ACTIVE, Status.RETIRED),
        (Status.ACTIVE, Status.PROPOSED),
        (Status.RETIRED, Status.ACTIVE),
        (Status.RETIRED, Status.PROPOSED),
        (Status.OFFBOARDING, Status.ANNOUNCED),
    ],
)
def test_lifecycle_refuses_skipping_steps(start, target, officer):
    sub = SubprocessorFactory(status=start)
    with pytest.raises(ValidationError) as refused:
        subprocessor_transition(subprocessor=sub, to=target, actor=officer)
    assert "cannot go from" in refused.value.messages[0]
    sub.refresh_from_db()
    assert sub.status == start


def test_lifecycle_allows_exactly_the_documented_steps():
    assert {s: set(t) for s, t in ALLOWED_TRANSITIONS.items()} == {
        Status.PROPOSED: {Status.ANNOUNCED, Status.RETIRED},
        Status.ANNOUNCED: {Status.ACTIVE, Status.PROPOSED},
        Status.ACTIVE: {Status.OFFBOARDING},
        Status.OFFBOARDING: {Status.RETIRED, Status.ACTIVE},
        Status.RETIRED: set(),
    }


def test_only_a_proposal_can_be_dropped(proposed, active, officer):
    other = SubprocessorFactory()
    subprocessor_proposal_drop(subprocessor=other, actor=officer)
    other.refresh_from_db()
    assert other.status == Status.RETIRED
    with pytest.raises(ValidationError, match="Only a proposed subprocessor can be dropped"):
        subprocessor_proposal_drop(subprocessor=active, actor=officer)


def test_a_removal_needs_an_active_vendor_and_an_addition_a_proposed_one(proposed, officer):
    with pytest.raises(ValidationError) as refused:
        announce(proposed, officer, kind=Kind.REMOVAL)
    assert "needs a active subprocessor" in refused.value.message_dict["kind"][0] or "active" in str(refused.value)
    make_active(proposed, officer)
    with pytest.raises(ValidationError):
        announce(proposed, officer, kind=Kind.ADDITION)


def test_the_same_change_cannot_run_twice(active, officer, purposes):
    announce(active, officer, kind=Kind.NEW_PURPOSE, purpose=purposes["support"])
    with pytest.raises(ValidationError, match="already announced"):
        announce(active, officer, kind=Kind.NEW_PURPOSE, purpose=purposes["support"])


def test_a_new_location_is_pending_until_its_change_takes_effect(active, officer):
    location = processing_location_save(
        location=LocationFactory.build(subprocessor=active, country="CH", mechanism="adequacy"), actor=officer
    )
    assert location.is_pending
    change = announce(active, officer, kind=Kind.NEW_LOCATION, location=location)
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        subprocessor_change_activate(change=change, actor=officer)
    location.refresh_from_db()
    assert not location.is_pending


def test_a_new_purpose_and_data_category_join_the_scope_only_when_effective(active, officer, purposes, categories):
    purpose_change = announce(active, officer, kind=Kind.NEW_PURPOSE, purpose=purposes["support"])
    category_change = announce(active, officer, kind=Kind.NEW_DATA_CATEGORY, data_category=categories["content"])
    assert not active.purposes.filter(slug="support").exists()
    assert not active.data_categories.filter(slug="content").exists()
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        subprocessor_change_activate(change=purpose_change, actor=officer)
        subprocessor_change_activate(change=category_change, actor=officer)
    assert active.purposes.filter(slug="support").exists()
    assert active.data_categories.filter(slug="content").exists()


def test_widening_a_public_vendors_scope_directly_is_refused_but_narrowing_is_allowed(active, categories, purposes):
    current = list(active.data_categories.all())
    with pytest.raises(ValidationError) as refused:
        subprocessor_scope_check(
            subprocessor=active, purposes=active.purposes.all(), data_categories=[*current, categories["content"]]
        )
    assert "announce a new data category as a change" in refused.value.message_dict["data_categories"][0]
    subprocessor_scope_check(subprocessor=active, purposes=[], data_categories=current[:1])


def test_a_proposed_vendors_scope_can_change_freely(proposed, categories):
    subprocessor_scope_check(subprocessor=proposed, purposes=[], data_categories=list(categories.values()))


def test_the_beat_job_activates_due_changes_and_holds_objected_ones(categories, officer):
    free = SubprocessorFactory(data_categories=[categories["support"]])
    held = SubprocessorFactory(data_categories=[categories["support"]])
    for sub in (free, held):
        LocationFactory(subprocessor=sub)
        DPAFactory(subprocessor=sub)
    with time_machine.travel("2026-03-02 10:00 +00:00"):
        announce(free, officer)
        held_change = announce(held, officer)
        change_objection_record(
            change=held_change,
            customer=CustomerFactory(),
            received_on=timezone.localdate(),
            grounds="No.",
            actor=officer,
        )
    with time_machine.travel("2026-03-31 23:00 +01:00"):
        assert subprocessor_changes_activate_due() == {"activated": 0, "held": 0}
    with time_machine.travel("2026-04-01 00:05 +01:00"):
        assert subprocessor_changes_activate_due() == {"activated": 1, "held": 1}
        assert subprocessor_changes_activate_due() == {"activated": 0, "held": 1}
    free.refresh_from_db()
    held.refresh_from_db()
    assert free.status == Status.ACTIVE
    assert held.status == Status.ANNOUNCED


def test_objections_are_only_logged_against_announced_changes(active, officer):
    effective = active.changes.get()
    with pytest.raises(ValidationError) as refused:
        change_objection_record(
            change=effective, customer=CustomerFactory(), received_on=timezone.localdate(), grounds="No.", actor=officer
        )
    assert "announced changes" in refused.value.message_dict["change"][0]


def test_an_objection_cannot_be_dated_in_the_future_or_before_the_announcement(proposed, officer):
    change = announce(proposed, officer)
    customer = CustomerFactory()
    for received in (timezone.localdate() + timedelta(days=1), timezone.localdate() - timedelta(days=1)):
        with pytest.raises(ValidationError) as refused:
            change_objection_record(change=change, customer=customer, received_on=received, grounds="x", actor=officer)
        assert "received_on" in refused.value.message_dict
    assert not ChangeObjection.objects.exists()


def test_resolving_needs_an_outcome_and_a_note_and_happens_once(proposed, officer):
    change = announce(proposed, officer)
    objection = change_objection_record(
        change=change, customer=CustomerFactory(), received_on=timezone.localdate(), grounds="No.", actor=officer
    )
    with pytest.raises(ValidationError):
        change_objection_resolve(objection=objection, outcome="", resolution="x", actor=officer)
    with pytest.raises(ValidationError):
        change_objection_resolve(
            objection=objection, outcome=ChangeObjection.Outcome.ACCOMMODATED, resolution=" ", actor=officer
        )
    change_objection_resolve(
        objection=objection, outcome=ChangeObjection.Outcome.WITHDRAWN_BY_CUSTOMER, resolution="Call.", actor=officer
    )
    with pytest.raises(ValidationError, match="already resolved"):
        change_objection_resolve(
            objection=objection, outcome=ChangeObjection.Outcome.ACCOMMODATED, resolution="x", actor=officer
        )


def test_a_change_for_a_vendor_that_left_cannot_take_effect(active, officer, purposes):
    change = subprocessor_change_announce(
        subprocessor=active,
        kind=SubprocessorChange.Kind.NEW_PURPOSE,
        summary="Also support.",
        effective_on=timezone.localdate() + timedelta(days=30),
        purpose=purposes["support"],
        actor=officer,
    )
    active.status = "retired"
    active.save()
    with time_machine.travel(timezone.now() + timedelta(days=31)), pytest.raises(ValidationError) as refused:
        subprocessor_change_activate(change=change, actor=officer)
    assert "Nimbus is retired: withdraw this change instead." in refused.value.messages
