"""Change notices (GDPR Art. 28(2)) and the objections customers raise against them.

A change is announced with an effective date at least the notice period away,
emailed to every subscriber, and takes effect on that date only if no objection
is left open. The notice period is contractual (REGULATIONS.md §4): the longest of
the default and every active customer contract's.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from compliance.history import set_history_actor
from compliance.models import DataCategory, ProcessingPurpose
from jobs.services import job_enqueue
from subprocessors.models import (
    AdequacyDecision,
    ChangeObjection,
    CustomerContract,
    ProcessingLocation,
    Subprocessor,
    SubprocessorChange,
    long_date,
)
from subprocessors.services.register import subprocessor_transition

Kind = SubprocessorChange.Kind
Status = Subprocessor.Status


def required_notice_days() -> int:
    """The notice a change must give: the default or a longer period a customer contract promises."""
    longest = CustomerContract.objects.filter(is_active=True).aggregate(days=Max("notice_days"))["days"]
    return max(settings.SUBPROCESSOR_NOTICE_DAYS, longest or 0)


def earliest_effective_date(*, announced_on: date | None = None, notice_days: int | None = None) -> date:
    """The first day a change announced on ``announced_on`` may take effect (calendar days)."""
    announced_on = announced_on or timezone.localdate()
    return announced_on + timedelta(days=required_notice_days() if notice_days is None else notice_days)


def change_announce_check(
    *,
    subprocessor: Subprocessor,
    kind: str,
    effective_on: date | None,
    location: ProcessingLocation | None = None,
    purpose: ProcessingPurpose | None = None,
    data_category: DataCategory | None = None,
    today: date | None = None,
) -> None:
    """Why this change cannot be announced, as field errors (nothing is written).

    The admin form runs it to show the reasons next to the fields; the
    announcing service runs it again under the row lock.
    """
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    notice_days = required_notice_days()
    earliest = earliest_effective_date(announced_on=today, notice_days=notice_days)
    if effective_on is None:
        refuse("effective_on", f"Give the effective date (the earliest is {long_date(earliest)}).")
    elif effective_on < earliest:
        refuse(
            "effective_on",
            f"The effective date must give {notice_days} days' notice: the earliest is {long_date(earliest)} "
            f"(announced {long_date(today)}).",
        )

    expected_status = {
        Kind.ADDITION: [Status.PROPOSED],
        Kind.REMOVAL: [Status.ACTIVE],
    }.get(kind, [Status.ANNOUNCED, Status.ACTIVE])
    if subprocessor.status not in expected_status:
        wanted = " or ".join(Status(s).label.lower() for s in expected_status)
        refuse(
            "kind",
            f"A change of kind '{Kind(kind).label}' needs a {wanted} subprocessor; "
            f"{subprocessor} is {Status(subprocessor.status).label.lower()}.",
        )

    if kind == Kind.ADDITION:
        locations = list(subprocessor.locations.all())
        if not locations:
            refuse("subprocessor", f"Add {subprocessor}'s processing locations before announcing it.")
        decisions = {d.country.code: d for d in AdequacyDecision.objects.all()}
        for loc in locations:
            problem = loc.mechanism_problem(decisions.get(loc.country.code), today)
            if problem:
                refuse("subprocessor", problem)
        if not subprocessor.data_categories.exists():
            refuse("subprocessor", f"Say which data categories {subprocessor} will receive before announcing it.")
        if not subprocessor.pk or not subprocessor.dpas.filter(signed_on__lte=today).exists():
            refuse(
                "subprocessor",
                f"{subprocessor} has no signed DPA (Art. 28(4)): record it on the subprocessor before announcing "
                "its addition. Nothing was sent.",
            )
    if kind == Kind.NEW_LOCATION:
        if location is None:
            refuse("location", "Choose the new location (add it to the subprocessor first).")
        elif location.subprocessor_id != subprocessor.pk:
            refuse("location", "That location belongs to another subprocessor.")
        elif not location.is_pending:
            refuse("location", "That location is already in use.")
    elif location is not None:
        refuse("location", "Only a 'new location' change names a location.")
    if kind == Kind.NEW_PURPOSE:
        if purpose is None:
            refuse("purpose", "Choose the new purpose.")
        elif subprocessor.pk and subprocessor.purposes.filter(pk=purpose.pk).exists():
            refuse("purpose", f"{subprocessor} already serves the purpose {purpose}.")
    elif purpose is not None:
        refuse("purpose", "Only a 'new purpose' change names a purpose.")
    if kind == Kind.NEW_DATA_CATEGORY:
        if data_category is None:
            refuse("data_category", "Choose the new data category.")
        elif subprocessor.pk and subprocessor.data_categories.filter(pk=data_category.pk).exists():
            refuse("data_category", f"{subprocessor} already receives {data_category}.")
    elif data_category is not None:
        refuse("data_category", "Only a 'new data category' change names a data category.")

    running = SubprocessorChange.objects.filter(subprocessor=subprocessor, status=SubprocessorChange.Status.ANNOUNCED)
    duplicate = {
        Kind.ADDITION: running.filter(kind=Kind.ADDITION),
        Kind.REMOVAL: running.filter(kind=Kind.REMOVAL),
        Kind.NEW_LOCATION: running.filter(location=location) if location else running.none(),
        Kind.NEW_PURPOSE: running.filter(kind=Kind.NEW_PURPOSE, purpose=purpose) if purpose else running.none(),
        Kind.NEW_DATA_CATEGORY: running.filter(kind=Kind.NEW_DATA_CATEGORY, data_category=data_category)
        if data_category
        else running.none(),
    }[Kind(kind)]
    if subprocessor.pk and duplicate.exists():
        refuse("kind", "The same change is already announced and running.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def subprocessor_change_announce(
    *,
    subprocessor: Subprocessor,
    kind: str,
    summary: str,
    effective_on: date,
    actor: User | None,
    location: ProcessingLocation | None = None,
    purpose: ProcessingPurpose | None = None,
    data_category: DataCategory | None = None,
) -> SubprocessorChange:
    """Announce a change; it is emailed to subscribers once the transaction commits.

    An addition moves the subprocessor from proposed to announced, a removal from
    active to offboarding. Nothing is written when a check fails.
    """
    subprocessor = Subprocessor.objects.select_for_update().get(pk=subprocessor.pk)
    now = timezone.now()
    today = timezone.localdate(now)
    change_announce_check(
        subprocessor=subprocessor,
        kind=kind,
        effective_on=effective_on,
        location=location,
        purpose=purpose,
        data_category=data_category,
        today=today,
    )
    if not summary.strip():
        raise ValidationError({"summary": "Describe the change for customers."})
    change = SubprocessorChange(
        subprocessor=subprocessor,
        kind=kind,
        summary=summary.strip(),
        location=location,
        purpose=purpose,
        data_category=data_category,
        announced_at=now,
        announced_on=today,
        announced_by=actor,
        notice_days=required_notice_days(),
        effective_on=effective_on,
    )
    set_history_actor(change, actor)
    change.save()
    if kind == Kind.ADDITION:
        subprocessor_transition(subprocessor=subprocessor, to=Status.ANNOUNCED, actor=actor)
    elif kind == Kind.REMOVAL:
        subprocessor_transition(subprocessor=subprocessor, to=Status.OFFBOARDING, actor=actor)
    else:
        Subprocessor.objects.filter(pk=subprocessor.pk).update(updated_at=now)

    job_enqueue("subprocessors.tasks.change_notices_send_task", change.pk)
    return change


def change_activation_blockers(change: SubprocessorChange, *, today: date | None = None) -> list[str]:
    """Everything that keeps ``change`` from taking effect today (empty when it may)."""
    today = today or timezone.localdate()
    if change.status != SubprocessorChange.Status.ANNOUNCED:
        return [f"Only an announced change can take effect; this one is {change.get_status_display().lower()}."]
    blockers = []
    if today < change.effective_on:
        days = (change.effective_on - today).days
        plural = "s" if days != 1 else ""
        blockers.append(f"The notice period runs until {long_date(change.effective_on)} ({days} day{plural} left).")
    open_objections = list(change.objections.filter(outcome="").select_related("customer"))
    if open_objections:
        names = ", ".join(str(o.customer) for o in open_objections)
        blockers.append(f"{len(open_objections)} unresolved objection(s) from: {names}. Resolve them first.")
    subprocessor = change.subprocessor
    if change.kind not in (Kind.ADDITION, Kind.REMOVAL) and subprocessor.status not in (
        Status.ANNOUNCED,
        Status.ACTIVE,
    ):
        blockers.append(f"{subprocessor} is {Status(subprocessor.status).label.lower()}: withdraw this change instead.")
    if change.kind == Kind.ADDITION:
        signed = subprocessor.dpas.filter(signed_on__lte=today)
        if not signed.exists():
            blockers.append(f"No signed DPA for {subprocessor} (Art. 28(4)): record it before it starts processing.")
    if change.kind in (Kind.ADDITION, Kind.NEW_LOCATION):
        decisions = {d.country.code: d for d in AdequacyDecision.objects.all()}
        locations = [change.location] if change.kind == Kind.NEW_LOCATION else list(subprocessor.locations.all())
        for loc in locations:
            problem = loc.mechanism_problem(decisions.get(loc.country.code), today)
            if problem:
                blockers.append(problem)
    return blockers


@transaction.atomic
def subprocessor_change_activate(
    *, change: SubprocessorChange, actor: User | None, today: date | None = None
) -> SubprocessorChange:
    """Make an announced change effective, or refuse and say why.

    Only an announced change whose notice period has ended and whose objections
    are all resolved may take effect. Applies it: an addition makes the vendor
    active, a removal retires it, a location comes into use, a purpose or data
    category joins the vendor's scope.
    """
    change = SubprocessorChange.objects.select_for_update().select_related("subprocessor").get(pk=change.pk)
    now = timezone.now()
    blockers = change_activation_blockers(change, today=today or timezone.localdate(now))
    if blockers:
        raise ValidationError(blockers)
    subprocessor = Subprocessor.objects.select_for_update().get(pk=change.subprocessor_id)
    set_history_actor(subprocessor, actor)
    if change.kind == Kind.ADDITION:
        subprocessor_transition(subprocessor=subprocessor, to=Status.ACTIVE, actor=actor)
    elif change.kind == Kind.REMOVAL:
        subprocessor_transition(subprocessor=subprocessor, to=Status.RETIRED, actor=actor)
    elif change.kind == Kind.NEW_LOCATION:
        location = change.location
        location.is_pending = False
        set_history_actor(location, actor)
        location.save(update_fields=["is_pending"])
    elif change.kind == Kind.NEW_PURPOSE:
        subprocessor.purposes.add(change.purpose)
    elif change.kind == Kind.NEW_DATA_CATEGORY:
        subprocessor.data_categories.add(change.data_category)
    if change.kind not in (Kind.ADDITION, Kind.REMOVAL):
        subprocessor.save(update_fields=["updated_at"])
    change.status = SubprocessorChange.Status.EFFECTIVE
    change.effective_at = now
    set_history_actor(change, actor)
    change.save(update_fields=["status", "effective_at"])
    return change


def subprocessor_changes_activate_due(*, today: date | None = None) -> dict[str, int]:
    """The beat job: make effective every announced change whose date has come, if nothing blocks it.

    Each change is its own transaction, so one held back by an objection does not
    stop the others; the held ones stay announced and show in the digest.
    """
    today = today or timezone.localdate()
    outcome = {"activated": 0, "held": 0}
    due = SubprocessorChange.objects.filter(
        status=SubprocessorChange.Status.ANNOUNCED, effective_on__lte=today
    ).order_by("effective_on", "pk")
    for change_id in due.values_list("pk", flat=True):
        change = SubprocessorChange.objects.get(pk=change_id)
        try:
            subprocessor_change_activate(change=change, actor=None, today=today)
        except ValidationError:
            outcome["held"] += 1
        else:
            outcome["activated"] += 1
    return outcome


@transaction.atomic
def subprocessor_change_withdraw(*, change: SubprocessorChange, reason: str, actor: User | None) -> SubprocessorChange:
    """Withdraw an announced change; the subprocessor returns to where it was.

    Open objections against it are closed as 'change withdrawn'.
    """
    change = SubprocessorChange.objects.select_for_update().get(pk=change.pk)
    if change.status != SubprocessorChange.Status.ANNOUNCED:
        raise ValidationError(f"Only an announced change can be withdrawn; this one is {change.get_status_display()}.")
    if not reason.strip():
        raise ValidationError("Give the reason for withdrawing the change (customers were told about it).")
    now = timezone.now()
    subprocessor = Subprocessor.objects.select_for_update().get(pk=change.subprocessor_id)
    if change.kind == Kind.ADDITION:
        subprocessor_transition(subprocessor=subprocessor, to=Status.PROPOSED, actor=actor)
    elif change.kind == Kind.REMOVAL:
        subprocessor_transition(subprocessor=subprocessor, to=Status.ACTIVE, actor=actor)
    else:
        Subprocessor.objects.filter(pk=subprocessor.pk).update(updated_at=now)
    for objection in change.objections.select_for_update().filter(outcome=""):
        objection.outcome = ChangeObjection.Outcome.CHANGE_WITHDRAWN
        objection.resolution = "The change was withdrawn."
        objection.resolved_at = now
        objection.resolved_by = actor
        set_history_actor(objection, actor)
        objection.save()
    change.status = SubprocessorChange.Status.WITHDRAWN
    change.withdrawn_at = now
    change.withdrawal_reason = reason.strip()
    set_history_actor(change, actor)
    change.save(update_fields=["status", "withdrawn_at", "withdrawal_reason"])
    if change.deliveries.filter(sent_at__isnull=False).exists():
        job_enqueue("subprocessors.tasks.change_withdrawal_notices_send_task", change.pk)
    return change


def change_announce_summary(*, subprocessor: Subprocessor, kind: str) -> dict[str, Any]:
    """What announcing would do, for the confirmation page: who is emailed, what changes state."""
    from subprocessors.services.notices import active_subscribers

    subscribers = list(active_subscribers().order_by("email").values_list("email", flat=True))
    moves = {
        Kind.ADDITION: f"{subprocessor} becomes announced (public, marked as coming).",
        Kind.REMOVAL: f"{subprocessor} becomes offboarding.",
    }.get(Kind(kind), f"{subprocessor} keeps its status until the change takes effect.")
    return {"subscribers": subscribers, "subscriber_count": len(subscribers), "moves": moves}


def change_withdrawal_summary(*, change: SubprocessorChange) -> dict[str, Any]:
    """Who is told of a withdrawal: the subscribers the announcement reached (and still subscribed)."""
    told = change.deliveries.filter(sent_at__isnull=False, subscriber__unsubscribed_at__isnull=True)
    return {
        "told_count": told.count(),
        "open_objections": change.objections.filter(outcome="").count(),
    }


def change_objection_check(*, change: SubprocessorChange, customer: CustomerContract, received_on: date | None) -> None:
    """Why an objection cannot be logged against ``change`` (nothing is written)."""
    errors = {}
    if change.status != SubprocessorChange.Status.ANNOUNCED:
        errors["change"] = (
            f"Objections are logged against announced changes; this one is {change.get_status_display()}."
        )
    if received_on and received_on > timezone.localdate():
        errors["received_on"] = "The date received cannot be in the future."
    if received_on and received_on < change.announced_on:
        errors["received_on"] = f"The change was only announced on {long_date(change.announced_on)}."
    if customer and change.objections.filter(customer=customer, outcome="").exists():
        errors["customer"] = f"{customer} already has an open objection to this change."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def change_objection_record(
    *, change: SubprocessorChange, customer: CustomerContract, received_on: date, grounds: str, actor: User | None
) -> ChangeObjection:
    """Log a customer's objection; until resolved it holds the change back."""
    change = SubprocessorChange.objects.select_for_update().get(pk=change.pk)
    change_objection_check(change=change, customer=customer, received_on=received_on)
    if not grounds.strip():
        raise ValidationError({"grounds": "Record the customer's grounds."})
    objection = ChangeObjection(
        change=change, customer=customer, received_on=received_on, grounds=grounds.strip(), recorded_by=actor
    )
    objection.full_clean()
    set_history_actor(objection, actor)
    objection.save()
    return objection


@transaction.atomic
def change_objection_resolve(
    *, objection: ChangeObjection, outcome: str, resolution: str, actor: User | None
) -> ChangeObjection:
    """Close an objection with its outcome and how it was resolved."""
    objection = ChangeObjection.objects.select_for_update().get(pk=objection.pk)
    if objection.outcome:
        raise ValidationError(f"This objection was already resolved ({objection.get_outcome_display()}).")
    if outcome not in ChangeObjection.Outcome.values:
        raise ValidationError({"outcome": "Choose how the objection was resolved."})
    if not resolution.strip():
        raise ValidationError({"resolution": "Say how the objection was resolved."})
    objection.outcome = outcome
    objection.resolution = resolution.strip()
    objection.resolved_at = timezone.now()
    objection.resolved_by = actor
    set_history_actor(objection, actor)
    objection.save()
    return objection
