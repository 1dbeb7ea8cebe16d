"""Helpers shared by the fulfilment services: the subject, keyed hashes, storage, step bookkeeping."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from compliance.connectors import ConnectorError, Subject
from fulfilment.models import ExportBundle, FulfilmentStep
from requests_app.models import RightsRequest
from requests_app.selectors import RequestIdentifiers, request_identifiers

logger = logging.getLogger("fulfilment")

# Which rights the workers carry out, and as which kind of plan.
RIGHT_PLAN_KIND = {
    "access": "export",
    "portability": "export",
    "erasure": "erasure",
    "restriction": "restriction",
    "rectification": "rectification",
}

START_PERMISSION = "fulfilment.add_fulfilmentplan"
APPROVE_PERMISSION = "fulfilment.approve_fulfilmentplan"
STEP_PERMISSION = "fulfilment.change_fulfilmentstep"


def subject_for(request: RightsRequest) -> Subject:
    """Whom the request is about, as the systems of record know them: only the identifiers a verification covers.

    Every locate, export, erasure, restriction and Art. 19 notice goes through here. An account reference
    whose account belongs to someone else (another email, no verification of its own) is left out
    (``requests_app.selectors.request_identifiers``); it never joins the requester's email silently.
    The locate steps decide, once, whether the account reference is used (``locate_evidence``); every later
    step acts on that decision: an approved plan is not widened by a verification recorded after it was
    located, and an account the erasure masked (its email now a hash) is not dropped half-way.
    """
    used = located_account_used(request)
    if used is None:
        return subject_of(request_identifiers(request), reference=request.reference)
    email = request.requester_email if request.identity_confirmed and request.requester_email else None
    account_ref = (request.account_ref or "").strip()
    return subject_of(
        RequestIdentifiers(email=email, account_ref=account_ref if used else None, account_status=""),
        reference=request.reference,
    )


def subject_of(identifiers: RequestIdentifiers, *, reference: str = "") -> Subject:
    """The connectors' subject for identifiers already checked (``request_identifiers``)."""
    if identifiers.email is None and identifiers.account_ref is None:
        raise ConnectorError("The requester's identity is not verified: no identifier may be searched.")
    return Subject(account_ref=identifiers.account_ref, email=identifiers.email, reference=reference)


def locate_evidence(identifiers: RequestIdentifiers) -> dict[str, str]:
    """What a locate step records: which identifiers it used, in words, and a keyed hash of the account it used."""
    account = identifier_hmac("account", identifiers.account_ref) if identifiers.account_ref else ""
    return {"identifiers": identifiers.summary, "account_hmac": account}


def located_account_used(request: RightsRequest) -> bool | None:
    """Whether the locate steps used the request's account reference; None before any locate step finished."""
    decided = _located_account_hmacs(request)
    if decided is None:
        return None
    account_ref = (request.account_ref or "").strip()
    return bool(account_ref) and decided == {identifier_hmac("account", account_ref)}


def _located_account_hmacs(request: RightsRequest) -> set[str] | None:
    """The accounts the finished locate steps used (empty: none); None before any locate step finished."""
    evidence = list(
        FulfilmentStep.objects.filter(
            request=request, kind=FulfilmentStep.Kind.LOCATE, status=FulfilmentStep.Status.DONE
        ).values_list("evidence", flat=True)
    )
    decisions = [item["account_hmac"] for item in evidence if "account_hmac" in item]
    if not decisions:
        return None
    if len(set(decisions)) > 1 or not decisions[0]:
        return set()  # steps that disagree (the account checked at different times) use no account
    return {decisions[0]}


def identifier_hmac(kind: str, value: str) -> str:
    """Keyed hash of a subject identifier ("account" or "email"), domain-separated by kind."""
    normalised = value.strip().lower() if kind == "email" else value.strip()
    message = f"{kind}:{normalised}".encode()
    return hmac.new(settings.COMPLIANCE_HMAC_KEY.encode(), message, hashlib.sha256).hexdigest()


def client_fingerprint(address: str | None) -> str:
    """A short keyed hash of a client address for download records (never the address itself)."""
    if not address:
        return ""
    return identifier_hmac("client", address)[:16]


def bundle_storage() -> Storage:
    return storages[settings.EXPORT_BUNDLE_STORAGE]


def safe_error(exc: BaseException) -> str:
    """A message safe to store: connector errors are written PII-free; anything else shows its type only."""
    from compliance.connectors import ConnectorError

    if isinstance(exc, ConnectorError):
        return str(exc)[:500] or type(exc).__name__
    return f"Unexpected error ({type(exc).__name__}); see the worker log for step details."


def step_begin(step_id: int) -> FulfilmentStep | None:
    """Mark a step running (one more attempt) unless it is finished; returns it, or None to skip."""
    with transaction.atomic():
        step = FulfilmentStep.objects.select_for_update(of=("self",)).select_related("system", "table").get(pk=step_id)
        if step.is_finished:
            return None
        step.status = FulfilmentStep.Status.RUNNING
        step.attempts += 1
        step.error = ""
        step.queued_at = None  # its job is taken: the step may be queued again if this worker is lost
        step.heartbeat_at = timezone.now()
        if step.started_at is None:
            step.started_at = step.heartbeat_at
        step.save(update_fields=["status", "attempts", "error", "queued_at", "heartbeat_at", "started_at"])
    return step


def step_fail(step: FulfilmentStep, exc: BaseException) -> None:
    message = safe_error(exc)
    logger.warning("fulfilment step %s (%s) failed: %s", step.pk, step.kind, type(exc).__name__)
    FulfilmentStep.objects.filter(pk=step.pk).exclude(status__in=FulfilmentStep.FINISHED).update(
        status=FulfilmentStep.Status.FAILED, error=message
    )


def step_wait(step: FulfilmentStep, reference: str, message: str) -> None:
    FulfilmentStep.objects.filter(pk=step.pk).exclude(status__in=FulfilmentStep.FINISHED).update(
        status=FulfilmentStep.Status.WAITING, external_reference=reference[:100], error=message[:500]
    )


# ------------------------------------------------------------------------------
# Leases: a running worker says it is alive
# ------------------------------------------------------------------------------


def lease_lapsed_before() -> datetime:
    """A lease renewed before this moment has lapsed: its worker is gone (killed, or lost its machine)."""
    return timezone.now() - timedelta(seconds=settings.FULFILMENT_LEASE_SECONDS)


class _Renewer(threading.Thread):
    """Renews a lease every third of ``FULFILMENT_LEASE_SECONDS`` until stopped, on its own connection.

    A step can spend minutes inside one call (streaming a large table, waiting on a row lock), longer
    than the lease: the renewal cannot wait for the work to reach a checkpoint. The thread dies with its
    process, so a killed worker's lease lapses on time.
    """

    def __init__(self, renew: Callable[[], object]) -> None:
        super().__init__(name="fulfilment-lease", daemon=True)
        self.renew = renew
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(0.5, settings.FULFILMENT_LEASE_SECONDS / 3)
        try:
            while not self.stopped.wait(interval):
                try:
                    self.renew()
                except DatabaseError as exc:  # the database restarting: try again at the next interval
                    logger.warning("fulfilment lease not renewed (%s)", type(exc).__name__)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connections only


@contextmanager
def _renewing(renew: Callable[[], object]) -> Iterator[None]:
    renewer = _Renewer(renew)
    renewer.start()
    try:
        yield
    finally:
        renewer.stopped.set()
        renewer.join(timeout=5)


def steps_lease(step_ids: list[int]) -> AbstractContextManager[None]:
    """Hold the lease of running steps while the block runs (``step_begin`` took it)."""

    def renew() -> None:
        FulfilmentStep.objects.filter(pk__in=step_ids, status=FulfilmentStep.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    return _renewing(renew)


def assembly_lease(bundle_id: int) -> AbstractContextManager[None]:
    """Hold the lease of a bundle's assembly while the block runs."""

    def renew() -> None:
        ExportBundle.objects.filter(pk=bundle_id, status=ExportBundle.Status.BUILDING).update(
            assembly_heartbeat_at=timezone.now()
        )

    ExportBundle.objects.filter(pk=bundle_id).update(assembly_heartbeat_at=timezone.now(), assembly_queued_at=None)
    return _renewing(renew)
