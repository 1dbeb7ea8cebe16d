"""Legal holds: placing, changing and releasing them, each a recorded event."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.history import set_history_actor
from compliance.models import DataCategory, MappedTable, SystemOfRecord
from retention.models import LegalHold


def _normalise(hold: LegalHold) -> None:
    hold.subject_email = hold.subject_email.strip().lower()
    hold.subject_account_ref = hold.subject_account_ref.strip()


@transaction.atomic
def legal_hold_save(*, hold: LegalHold, actor: User | None) -> LegalHold:
    """Validate and save a new or changed hold (``placed_by`` defaults to ``actor``).

    Refuses a hold without a scope, one whose 'until' is not after its 'from', a
    table outside the chosen system, and changes to a released hold.
    """
    if hold.pk and LegalHold.objects.filter(pk=hold.pk, released_at__isnull=False).exists():
        raise ValidationError("This hold was released; place a new hold instead of changing it.")
    if not hold.placed_by_id:
        hold.placed_by = actor
    _normalise(hold)
    hold.full_clean()
    hold.ended_at = hold.end_moment()
    set_history_actor(hold, actor)
    hold.save()
    return hold


def legal_hold_place(
    *,
    actor: User | None,
    name: str,
    reason: str,
    description: str = "",
    subject_account_ref: str = "",
    subject_email: str = "",
    data_category: DataCategory | None = None,
    system: SystemOfRecord | None = None,
    table: MappedTable | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> LegalHold:
    """Place a hold: from then on every sweep and every erasure skips the rows in its scope."""
    hold = LegalHold(
        name=name,
        reason=reason,
        description=description,
        subject_account_ref=subject_account_ref,
        subject_email=subject_email,
        data_category=data_category,
        system=system,
        table=table,
        placed_by=actor,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
    )
    return legal_hold_save(hold=hold, actor=actor)


@transaction.atomic
def legal_hold_release(*, hold_id: int, actor: User | None, reason: str) -> LegalHold:
    """Release a hold, recording who released it, when and why (a history entry too).

    Sweeps and erasures no longer skip its rows from the next batch on.
    """
    hold = LegalHold.objects.select_for_update().get(pk=hold_id)
    if hold.released_at is not None:
        raise ValidationError(f"Hold '{hold.name}' was already released.")
    if not reason.strip():
        raise ValidationError("Say why the hold is released (e.g. the case settled).")
    hold.released_at = timezone.now()
    hold.released_by = actor
    hold.release_reason = reason.strip()
    # Released after it lapsed: it still ended on its 'until' date, and its record is kept from then.
    hold.ended_at = hold.end_moment()
    set_history_actor(hold, actor)
    hold._change_reason = f"Released: {hold.release_reason}"[:100]
    hold.save()
    return hold
