"""Writes of the register itself: subprocessors, locations, DPAs, attestations, the lifecycle."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from compliance.history import set_history_actor
from subprocessors.models import DataProcessingAgreement, ProcessingLocation, SecurityAttestation, Subprocessor

logger = logging.getLogger(__name__)
Status = Subprocessor.Status

# The lifecycle: which status may follow which, and what moves it there.
ALLOWED_TRANSITIONS: dict[str, dict[str, str]] = {
    Status.PROPOSED: {Status.ANNOUNCED: "an addition is announced", Status.RETIRED: "the proposal is dropped"},
    Status.ANNOUNCED: {
        Status.ACTIVE: "the addition takes effect",
        Status.PROPOSED: "the announced addition is withdrawn",
    },
    Status.ACTIVE: {Status.OFFBOARDING: "a removal is announced"},
    Status.OFFBOARDING: {
        Status.RETIRED: "the removal takes effect",
        Status.ACTIVE: "the announced removal is withdrawn",
    },
    Status.RETIRED: {},
}


def subprocessor_transition(*, subprocessor: Subprocessor, to: str, actor: User | None) -> Subprocessor:
    """Move ``subprocessor`` to status ``to`` if the lifecycle allows it.

    Callers hold the row lock and run inside a transaction; change notices are
    the only way into ``active`` and ``retired`` (via a removal), so the admin
    never sets a status directly.
    """
    allowed = ALLOWED_TRANSITIONS[subprocessor.status]
    if to not in allowed:
        options = ", ".join(f"{Status(s).label.lower()} (when {why})" for s, why in allowed.items()) or "none"
        raise ValidationError(
            f"{subprocessor} cannot go from {Status(subprocessor.status).label.lower()} to "
            f"{Status(to).label.lower()}. Possible next steps: {options}."
        )
    today = timezone.localdate()
    subprocessor.status = to
    if to == Status.ACTIVE and subprocessor.active_since is None:
        subprocessor.active_since = today
    if to == Status.RETIRED:
        subprocessor.retired_on = today
    if to == Status.PROPOSED:
        subprocessor.active_since = None
    set_history_actor(subprocessor, actor)
    subprocessor.save(update_fields=["status", "active_since", "retired_on", "updated_at"])
    return subprocessor


def subprocessor_scope_check(
    *, subprocessor: Subprocessor, purposes: Iterable[Any], data_categories: Iterable[Any]
) -> None:
    """Refuse widening a public subprocessor's purposes or data categories without notice.

    Customers were told what a public subprocessor processes; a new purpose or
    data category is a change they must hear about before it happens (Art. 28(2)).
    Narrowing is always allowed.
    """
    if subprocessor.pk is None or subprocessor.status not in Subprocessor.PUBLIC_STATUSES:
        return
    errors = {}
    added_purposes = {p.pk for p in purposes} - set(subprocessor.purposes.values_list("pk", flat=True))
    if added_purposes:
        errors["purposes"] = (
            "Customers know this subprocessor's purposes: announce a new purpose as a change "
            "(kind 'New purpose') so they get notice before it applies."
        )
    added_categories = {c.pk for c in data_categories} - set(subprocessor.data_categories.values_list("pk", flat=True))
    if added_categories:
        errors["data_categories"] = (
            "Customers know which data this subprocessor receives: announce a new data category as a "
            "change (kind 'New data category') so they get notice before it applies."
        )
    if errors:
        raise ValidationError(errors)


def subprocessor_save(*, subprocessor: Subprocessor, actor: User | None) -> Subprocessor:
    """Create or update a subprocessor's own fields (status moves only through the lifecycle)."""
    subprocessor.full_clean()
    set_history_actor(subprocessor, actor)
    subprocessor.save()
    return subprocessor


@transaction.atomic
def subprocessor_proposal_drop(*, subprocessor: Subprocessor, actor: User | None) -> Subprocessor:
    """Retire a subprocessor that was proposed but never announced."""
    subprocessor = Subprocessor.objects.select_for_update().get(pk=subprocessor.pk)
    if subprocessor.status != Status.PROPOSED:
        raise ValidationError(
            f"Only a proposed subprocessor can be dropped; {subprocessor} is "
            f"{Status(subprocessor.status).label.lower()}. Announce its removal instead."
        )
    return subprocessor_transition(subprocessor=subprocessor, to=Status.RETIRED, actor=actor)


def processing_location_save(*, location: ProcessingLocation, actor: User | None) -> ProcessingLocation:
    """Add or correct a processing location.

    A location added to a subprocessor customers already see starts *pending*: it
    is used only once a 'new location' change has been announced and taken effect.
    """
    subprocessor = location.subprocessor
    if location.pk is None:
        location.is_pending = subprocessor.status in Subprocessor.PUBLIC_STATUSES
    else:
        before = ProcessingLocation.objects.get(pk=location.pk)
        if not before.is_pending and before.country != location.country and subprocessor.is_public:
            raise ValidationError(
                {"country": "A location in use cannot move to another country: add the new country and announce it."}
            )
    location.full_clean()
    set_history_actor(location, actor)
    location.save()
    return location


def processing_location_delete(*, location: ProcessingLocation, actor: User | None) -> None:
    """Remove a location (dropping a country needs no notice; its history row keeps the evidence)."""
    if location.changes.exists():
        raise ValidationError("This location is named by a change notice; withdraw the change instead.")
    set_history_actor(location, actor)
    location.delete()


PDF_SIGNATURE = b"%PDF-"


def dpa_document_check(document: Any) -> None:
    """Refuse a signed DPA that is not a PDF (by its first bytes, not its name) or is too large.

    The extension alone proves nothing: an HTML page named ``dpa.pdf`` would be
    stored and later downloaded by staff. The size cap is ``DPA_UPLOAD_MAX_MB``.
    """
    limit = settings.DPA_UPLOAD_MAX_MB * 1024 * 1024
    if document.size is not None and document.size > limit:
        raise ValidationError(
            {"document": f"The document is larger than {settings.DPA_UPLOAD_MAX_MB} MB. Upload the signed PDF only."}
        )
    document.seek(0)
    head = document.read(len(PDF_SIGNATURE))
    document.seek(0)
    if head != PDF_SIGNATURE:
        raise ValidationError({"document": "This file is not a PDF. Upload the signed agreement as a PDF."})


def _delete_stored_file(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.warning("subprocessors: could not delete a replaced DPA document")


@transaction.atomic
def dpa_save(*, dpa: DataProcessingAgreement, actor: User | None) -> DataProcessingAgreement:
    """Record or correct a DPA; the document goes to the private storage.

    A new document is checked (a PDF, under the size cap); the one it replaces is
    deleted once the change is committed (a rolled-back save keeps it).
    """
    if dpa.document and not dpa.document._committed:
        dpa_document_check(dpa.document)
    previous = ""
    if dpa.pk is not None:
        previous = DataProcessingAgreement.objects.filter(pk=dpa.pk).values_list("document", flat=True).first() or ""
    dpa.full_clean()
    set_history_actor(dpa, actor)
    dpa.save()
    if previous and previous != dpa.document.name:
        storage = dpa.document.storage
        transaction.on_commit(lambda: _delete_stored_file(storage, previous))
    return dpa


@transaction.atomic
def dpa_delete(*, dpa: DataProcessingAgreement, actor: User | None) -> None:
    """Remove a DPA recorded in error; its document is deleted once that is committed."""
    name = dpa.document.name if dpa.document else ""
    storage = dpa.document.storage
    set_history_actor(dpa, actor)
    dpa.delete()
    if name:
        transaction.on_commit(lambda: _delete_stored_file(storage, name))


def attestation_save(*, attestation: SecurityAttestation, actor: User | None) -> SecurityAttestation:
    """Record or correct a security attestation."""
    attestation.full_clean()
    set_history_actor(attestation, actor)
    attestation.save()
    return attestation
