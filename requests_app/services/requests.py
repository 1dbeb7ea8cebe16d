"""Intake, the event ledger, lines and closing of rights requests.

Domain errors are ``django.core.exceptions.ValidationError`` with a message per
field (the API answers them as 400 with field errors, the admin puts them on the
form); a missing permission is ``PermissionDenied``. Only compliance officers
(``requests_app.decide_request``) close, refuse, extend or record identity
verification; ``actor=None`` means the system itself (a worker job).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import holidays
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django_countries import countries
from simple_history.utils import bulk_create_with_history

from compliance.history import set_history_actor
from compliance.models import Regime, RegimeRight, Right, SubjectType
from compliance.selectors import regimes_for_requester
from requests_app.deadlines import Deadlines, LedgerEntry, RegimeRule, compute_request_deadlines, receipt_day
from requests_app.models import (
    GROUNDS_NEEDING_EVIDENCE,
    OPEN_STATUSES,
    ApiClient,
    Appeal,
    Channel,
    EventType,
    IdentityMethod,
    IdentityOutcome,
    Outcome,
    RefusalGround,
    RequestEvent,
    RequestLine,
    RequestNote,
    RequestRegime,
    RequestStatus,
    RightsRequest,
)
from requests_app.selectors import user_may_handle_requests
from requests_app.validators import clean_into

DECIDE_PERMISSION = "requests_app.decide_request"

# Events a person or an integration may add directly; the others are recorded by
# the service that performs the step (intake, line completion, response, closing).
MANUAL_EVENT_TYPES = [
    EventType.ACKNOWLEDGED,
    EventType.IDENTITY_REQUESTED,
    EventType.IDENTITY_RECEIVED,
    EventType.FEE_PAID,
    EventType.CLARIFICATION_REQUESTED,
    EventType.CLARIFICATION_RECEIVED,
    EventType.EXTENSION_NOTIFIED,
]

# How each event moves the request's status (None: unchanged).
_STATUS_AFTER_EVENT: dict[str, str | None] = {
    EventType.ACKNOWLEDGED: None,
    EventType.IDENTITY_REQUESTED: RequestStatus.AWAITING_IDENTITY,
    EventType.IDENTITY_RECEIVED: RequestStatus.IN_PROGRESS,
    EventType.FEE_PAID: None,
    EventType.CLARIFICATION_REQUESTED: RequestStatus.AWAITING_CLARIFICATION,
    EventType.CLARIFICATION_RECEIVED: RequestStatus.IN_PROGRESS,
    EventType.EXTENSION_NOTIFIED: None,
}

# Largest clock skew tolerated between an integration and us for "not in the future".
_FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# No regime applies to anything earlier (PIPEDA, the oldest, dates from 2000); also keeps dates
# far from the calendar's edges, where time zone conversion overflows.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------


def _require(actor: User | None, permission: str, message: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(message)


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    """An aware datetime; a bare date means the start of that day in the controller's timezone."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(dt.datetime.combine(value, dt.time.min))


def _local_day(value: dt.datetime) -> dt.date:
    return timezone.localdate(value)


def _resolve_regime(regime: Regime | str | None, errors: dict[str, list[str]]) -> Regime | None:
    """The primary regime named at intake, or ``None`` when none was named (it is then derived)."""
    if isinstance(regime, Regime):
        return regime
    if not regime:
        return None
    found = Regime.objects.filter(code=regime, is_active=True).first()
    if found is None:
        errors.setdefault("regime", []).append(f"Unknown regime {regime!r}.")
    return found


def _resolve_location(country: Any, region: str, errors: dict[str, list[str]]) -> tuple[str, str]:
    """The requester's country (ISO 3166-1 alpha-2) and subdivision code, checked."""
    country = str(country or "").strip().upper()
    region = (region or "").strip().upper()
    if country and country not in countries:
        errors.setdefault("requester_country", []).append("Unknown country code.")
    if region and not country:
        errors.setdefault("requester_region", []).append("Give the country of the state or province.")
    elif region and country in countries:
        subdivisions = holidays.list_supported_countries().get(country) or []
        if region not in subdivisions:
            errors.setdefault("requester_region", []).append("Unknown state or province code for this country.")
    return country, region


def _applicable(primary: Regime | None, country: str, region: str) -> list[tuple[Regime, str]]:
    """The regimes governing a new request, each with its basis; the primary regime first.

    The primary regime is the one named at intake, else the most specific law of the
    requester's residence, else the controller's first regime.
    """
    controller, residence = regimes_for_requester(country=country, region=region)
    if primary is None:
        primary = (residence or controller or [None])[0]
    basis: dict[int, tuple[Regime, str]] = {}
    for regime in controller:
        basis.setdefault(regime.pk, (regime, RequestRegime.Basis.CONTROLLER))
    for regime in residence:
        basis.setdefault(regime.pk, (regime, RequestRegime.Basis.RESIDENCE))
    if primary is not None:
        basis.setdefault(primary.pk, (primary, RequestRegime.Basis.PRIMARY))
        return [basis.pop(primary.pk), *basis.values()]
    return list(basis.values())


def _names(regimes: Sequence[Regime]) -> str:
    names = [regime.name for regime in regimes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _regime_rights(regimes: Sequence[Regime]) -> list[RegimeRight]:
    """What ``regimes`` grant, each right with its periods and verification rule: read once per intake and
    used to check the rights asked for, whether identity may be verified, and the deadlines."""
    if not regimes:
        return []
    return list(RegimeRight.objects.filter(regime__in=list(regimes)).select_related("right"))


def _resolve_rights(
    rights: Sequence[Right | str],
    regimes: Sequence[Regime],
    errors: dict[str, list[str]],
    granting: Sequence[RegimeRight] | None = None,
) -> list[Right]:
    """The rights asked for; each must be granted by at least one of ``regimes`` (REGULATIONS §1a).

    ``granting`` is ``_regime_rights(regimes)`` when the caller already holds it.
    """
    if not rights:
        errors.setdefault("rights", []).append("Choose at least one right.")
        return []
    slugs = [r.slug if isinstance(r, Right) else str(r) for r in rights]
    if len(set(slugs)) != len(slugs):
        errors.setdefault("rights", []).append("Each right can be asked for once per request.")
    granted = {row.right.slug: row.right for row in (_regime_rights(regimes) if granting is None else granting)}
    known = {slug: granted[slug] for slug in slugs if slug in granted}
    if len(known) < len(set(slugs)):  # a right no regime grants: unknown, or known but refused
        known.update({r.slug: r for r in Right.objects.filter(slug__in=[s for s in slugs if s not in granted])})
    unknown = [s for s in slugs if s not in known]
    if unknown:
        errors.setdefault("rights", []).append("Unknown right: " + ", ".join(sorted(set(unknown))) + ".")
    if regimes:
        refused = [s for s in slugs if s in known and s not in granted]
        if refused:
            verb = "does" if len(regimes) == 1 else "do"
            errors.setdefault("rights", []).append(
                f"{_names(regimes)} {verb} not grant: " + ", ".join(sorted(set(refused))) + "."
            )
    return [known[s] for s in dict.fromkeys(slugs) if s in known]


def _check_received_at(received_at: dt.datetime, errors: dict[str, list[str]]) -> None:
    if received_at > timezone.now() + _FUTURE_TOLERANCE:
        errors.setdefault("received_at", []).append("The received date cannot be in the future.")
    elif received_at < EARLIEST:
        errors.setdefault("received_at", []).append("The received date cannot be before 2000.")


def _clean_name(name: str, errors: dict[str, list[str]]) -> str:
    name = clean_into(name, field="requester_name", label="The name", errors=errors)
    if not name and "requester_name" not in errors:
        errors["requester_name"] = ["Give the requester's name."]
    return name


def _normalise_email(email: str, errors: dict[str, list[str]]) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors.setdefault("requester_email", []).append("Enter a valid email address.")
    return email


def _next_reference(year: int) -> str:
    # One statement takes the next number: the row lock it holds until commit is what makes the
    # numbers gapless, so the caller takes it as the last thing its transaction does.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO requests_app_referencecounter AS counter (year, last_number) VALUES (%s, 1) "
            "ON CONFLICT (year) DO UPDATE SET last_number = counter.last_number + 1 RETURNING last_number",
            [year],
        )
        number = cursor.fetchone()[0]
    return f"DSR-{year}-{number:05d}"


def _verification_allowed(
    regimes: Iterable[Regime], rights: Iterable[Right], granting: Sequence[RegimeRight] | None = None
) -> dict[int, bool]:
    """Per right: whether identity may be checked. Not where any regime granting it forbids it
    (CCPA §7026: no verification of an opt-out). ``granting``: the regimes' ``_regime_rights``, when held."""
    rights = list(rights)
    if granting is None:
        forbidden = set(
            RegimeRight.objects.filter(
                regime__in=list(regimes), right__in=rights, identity_verification_allowed=False
            ).values_list("right_id", flat=True)
        )
    else:
        forbidden = {row.right_id for row in granting if not row.identity_verification_allowed}
    return {right.pk: right.pk not in forbidden for right in rights}


def request_governing_regimes(request: RightsRequest) -> list[Regime]:
    """The regimes that govern ``request``, its primary regime first (REGULATIONS §1a)."""
    rows = list(request.request_regimes.select_related("regime").order_by("id"))
    regimes = [row.regime for row in rows]
    if not regimes:  # a request logged before regimes were recorded per request
        return [request.regime]
    regimes.sort(key=lambda regime: regime.pk != request.regime_id)
    return regimes


def _possible_duplicate(email: str, rights: Sequence[Right], exclude_pk: int | None = None) -> RightsRequest | None:
    candidates = RightsRequest.objects.filter(
        requester_email=email, status__in=OPEN_STATUSES, lines__right__in=list(rights)
    )
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    return candidates.order_by("received_at", "id").first()


def _record_event(
    *,
    request: RightsRequest,
    type: str,
    at: dt.datetime,
    actor: User | None,
    reason: str = "",
    line: RequestLine | None = None,
    api_client: ApiClient | None = None,
    regime: Regime | None = None,
    extended_to: dt.date | None = None,
    appeal: Appeal | None = None,
) -> RequestEvent:
    return RequestEvent.objects.create(
        appeal=appeal,
        request=request,
        type=type,
        at=at,
        actor=actor,
        reason=reason,
        line=line,
        api_client=api_client,
        regime=regime,
        extended_to=extended_to,
    )


def _lock(request: RightsRequest) -> RightsRequest:
    """Re-read the request under a row lock, so concurrent steps apply one after the other."""
    return RightsRequest.objects.select_for_update().select_related("regime").get(pk=request.pk)


# ------------------------------------------------------------------------------
# Deadlines
# ------------------------------------------------------------------------------


def rights_request_deadlines(
    *, request: RightsRequest, extra: Sequence[LedgerEntry] = (), today: dt.date | None = None
) -> Deadlines:
    """The request's dates from its governing regimes and its ledger (plus ``extra`` entries, for previews).

    The receipt date is the earliest calendar date of the moment of receipt in the
    controller's zone and the zones of the regimes governing the request.
    """
    regimes = request_governing_regimes(request)
    rights_by_regime = {
        regime.pk: list(RegimeRight.objects.filter(regime=regime).select_related("right")) for regime in regimes
    }
    rules = {regime.code: RegimeRule.from_regime(regime, rights_by_regime[regime.pk]) for regime in regimes}
    ledger = []
    for type_, at, extended_to, line_id, line_right, letter_id, delivered_at in request.events.order_by(
        "at", "id"
    ).values_list(
        "type", "at", "extended_to", "line_id", "line__right__slug", "communication__id", "communication__delivered_at"
    ):
        right = line_right if type_ == EventType.LINE_REOPENED and line_id else ""
        if letter_id is None:
            ledger.append(LedgerEntry(type_, _local_day(at), extended_to, right))
        elif delivered_at is not None:
            # An event that rests on a letter counts once the letter went out, from the day it did.
            ledger.append(LedgerEntry(type_, _local_day(delivered_at), extended_to, right))
    ledger.sort(key=lambda entry: entry.on)
    ledger.extend(extra)
    lines = list(request.lines.select_related("right"))
    zones = [settings.TIME_ZONE, *(regime.time_zone for regime in regimes if regime.time_zone)]
    return compute_request_deadlines(
        rules=rules,
        received_on=receipt_day(request.received_at, zones),
        ledger=ledger,
        rights=[line.right.slug for line in lines],
        open_rights=[line.right.slug for line in lines if line.status != RequestLine.Status.COMPLETED],
        today=today or timezone.localdate(),
    )


def rights_request_recompute(*, request: RightsRequest, today: dt.date | None = None) -> Deadlines:
    """Recompute and store every date of the request and its lines from the ledger.

    Called by every service that adds an event; never set these fields any other way.
    """
    deadlines = rights_request_deadlines(request=request, today=today)
    regime_ids = {regime.code: regime.pk for regime in request_governing_regimes(request)}
    for line in request.lines.select_related("right").prefetch_related("regimes"):
        due = deadlines.line_due.get(line.right.slug)
        if line.due_date != due:
            line.due_date = due
            line.save(update_fields=["due_date"])
        granting = {regime_ids[code] for code in deadlines.line_regimes.get(line.right.slug, ())}
        if {regime.pk for regime in line.regimes.all()} != granting:
            line.regimes.set(granting)
    values: dict[str, Any] = {
        "clock_started_on": deadlines.clock_started_on,
        "paused_days": deadlines.paused_days,
        "paused_since": deadlines.paused_since,
        "is_extended": deadlines.is_extended,
        "due_date": deadlines.due_date,
        "acknowledge_by": deadlines.acknowledge_by,
        "target_date": deadlines.target_date,
    }
    changed = [name for name, value in values.items() if getattr(request, name) != value]
    if changed:
        for name in changed:
            setattr(request, name, values[name])
        request.save(update_fields=[*changed, "updated_at"])
    return deadlines


@transaction.atomic
def rights_request_refresh(*, request: RightsRequest, actor: User | None) -> Deadlines:
    """Recompute an open request's dates after its regime row was corrected in the admin."""
    _require(actor, "requests_app.change_rightsrequest", "You cannot recompute deadlines.")
    request = _lock(request)
    if not request.is_open:
        raise ValidationError("An answered request keeps the dates it was answered against.")
    return rights_request_recompute(request=request)


# ------------------------------------------------------------------------------
# Intake and edits
# ------------------------------------------------------------------------------


def _intake_cleaned(
    *,
    requester_name: str,
    requester_email: str,
    regime: Any,
    rights: Any,
    channel: str,
    received_at: dt.datetime,
    requester_country: Any = "",
    requester_region: str = "",
) -> tuple[str, str, list[tuple[Regime, str]], list[Right], str, str, list[RegimeRight]]:
    errors: dict[str, list[str]] = {}
    name = _clean_name(requester_name, errors)
    email = _normalise_email(requester_email, errors)
    primary = _resolve_regime(regime, errors)
    country, region = _resolve_location(requester_country, requester_region, errors)
    applicable = [] if "regime" in errors else _applicable(primary, country, region)
    if not applicable and "regime" not in errors:
        errors["regime"] = ["Choose a regime: no regime applies to this requester yet."]
    governing = [regime for regime, _basis in applicable]
    granting = _regime_rights(governing)
    right_objs = _resolve_rights(rights, governing, errors, granting)
    if channel not in Channel.values:
        errors["channel"] = [f"Unknown channel {channel!r}."]
    _check_received_at(received_at, errors)
    if errors:
        raise ValidationError(errors)
    return name, email, applicable, right_objs, country, region, granting


def rights_request_check(
    *,
    requester_name: str,
    requester_email: str,
    regime: Regime | str | None,
    rights: Sequence[Right | str],
    channel: str,
    received_at: dt.datetime | None = None,
    requester_country: Any = "",
    requester_region: str = "",
) -> None:
    """Raise the ``ValidationError`` (per field) that ``rights_request_open`` would raise, writing nothing.

    Forms call it in ``clean()`` so the person typing sees every error next to the field.
    """
    _intake_cleaned(
        requester_name=requester_name,
        requester_email=requester_email,
        regime=regime,
        rights=rights,
        channel=channel,
        received_at=received_at or timezone.now(),
        requester_country=requester_country,
        requester_region=requester_region,
    )


@transaction.atomic
def rights_request_open(
    *,
    requester_name: str,
    requester_email: str,
    rights: Sequence[Right | str],
    actor: User | None,
    regime: Regime | str | None = None,
    requester_country: Any = "",
    requester_region: str = "",
    channel: str = Channel.EMAIL,
    received_at: dt.datetime | None = None,
    description: str = "",
    account_ref: str = "",
    subject_type: SubjectType | None = None,
    assignee: User | None = None,
    api_client: ApiClient | None = None,
) -> RightsRequest:
    """Log a new request: its governing regimes, one line per right, the ``received`` event, its deadlines.

    The governing regimes (REGULATIONS §1a) are the controller's own
    (``settings.CONTROLLER_REGIMES``), those the requester's country and region
    bring in (regime rows that apply to us), and ``regime``, the primary regime
    (derived from the residence when not given). Rejects an unknown regime,
    country or right, a right no governing regime grants, a received date in the
    future and a malformed email, all at once, per field.
    Flags (does not reject) an open request by the same requester for one of the
    same rights as a possible duplicate.
    """
    _require(actor, "requests_app.add_rightsrequest", "You cannot log rights requests.")
    received = received_at or timezone.now()
    requester_name, email, applicable, right_objs, country, region, granting = _intake_cleaned(
        requester_name=requester_name,
        requester_email=requester_email,
        regime=regime,
        rights=rights,
        channel=channel,
        received_at=received,
        requester_country=requester_country,
        requester_region=requester_region,
    )
    regime_obj = applicable[0][0]
    governing = sorted((regime for regime, _basis in applicable), key=lambda regime: regime.pk != regime_obj.pk)
    verification = _verification_allowed(governing, right_objs, granting)
    deadlines = _intake_deadlines(governing, right_objs, received, granting)
    # Numbered last (see _number): a provisional, unique reference until then, never seen outside this
    # transaction.
    provisional = f"NEW-{uuid.uuid4().hex[:16]}"
    request = RightsRequest(
        reference=provisional,
        requester_name=requester_name,
        requester_email=email,
        account_ref=(account_ref or "").strip(),
        subject_type=subject_type,
        regime=regime_obj,
        requester_country=country,
        requester_region=region,
        channel=channel,
        received_at=received,
        description=description or "",
        assignee=assignee,
        identity_outcome=(IdentityOutcome.PENDING if any(verification.values()) else IdentityOutcome.NOT_REQUIRED),
        possible_duplicate_of=_possible_duplicate(email, right_objs),
        api_client=api_client,
        created_by=actor,
        clock_started_on=deadlines.clock_started_on,
        paused_days=deadlines.paused_days,
        paused_since=deadlines.paused_since,
        is_extended=deadlines.is_extended,
        due_date=deadlines.due_date,
        acknowledge_by=deadlines.acknowledge_by,
        target_date=deadlines.target_date,
    )
    set_history_actor(request, actor)
    request.save()
    RequestRegime.objects.bulk_create(
        [RequestRegime(request=request, regime=regime, basis=basis) for regime, basis in applicable]
    )
    lines = bulk_create_with_history(
        [RequestLine(request=request, right=r, due_date=deadlines.line_due.get(r.slug)) for r in right_objs],
        RequestLine,
        default_user=actor,
    )
    regime_ids = {regime.code: regime.pk for regime in governing}
    RequestLine.regimes.through.objects.bulk_create(
        [
            RequestLine.regimes.through(requestline_id=line.pk, regime_id=regime_ids[code])
            for line in lines
            for code in dict.fromkeys(deadlines.line_regimes.get(line.right.slug, ()))
        ]
    )
    _record_event(request=request, type=EventType.RECEIVED, at=received, actor=actor, api_client=api_client)
    _number(request, provisional)
    return request


def _intake_deadlines(
    regimes: list[Regime], rights: list[Right], received: dt.datetime, granting: Sequence[RegimeRight]
) -> Deadlines:
    """A new request's dates, from what intake already holds.

    The same computation as ``rights_request_deadlines`` (whose ledger is then the
    one ``received`` event), without writing the request first and reading it back:
    intake stores its dates once. Pinned against ``rights_request_recompute`` by
    tests/requests_app/test_intake_queries.py.
    """
    by_regime: dict[int, list[RegimeRight]] = {regime.pk: [] for regime in regimes}
    for row in granting:
        by_regime[row.regime_id].append(row)
    rules = {regime.code: RegimeRule.from_regime(regime, by_regime[regime.pk]) for regime in regimes}
    zones = [settings.TIME_ZONE, *(regime.time_zone for regime in regimes if regime.time_zone)]
    slugs = [right.slug for right in rights]
    return compute_request_deadlines(
        rules=rules,
        received_on=receipt_day(received, zones),
        ledger=[LedgerEntry(EventType.RECEIVED, _local_day(received), None, "")],
        rights=slugs,
        open_rights=slugs,
        today=timezone.localdate(),
    )


def _number(request: RightsRequest, provisional: str) -> None:
    """Give the request its reference as the transaction's last write.

    The year's counter row stays locked from numbering to commit (gapless references, whatever the number
    of web processes): numbering last keeps that window to a few statements, so concurrent intakes do the
    rest of their work (lines, ledger, deadlines, history) side by side instead of one after another.
    """
    reference = _next_reference(timezone.localdate().year)
    RightsRequest.objects.filter(pk=request.pk).update(reference=reference)
    request.history.filter(reference=provisional).update(reference=reference)
    request.reference = reference


def rights_request_update_check(*, request: RightsRequest, **changes: Any) -> dict[str, Any]:
    """Raise the per-field ``ValidationError`` of an update, writing nothing; returns the cleaned changes."""
    unknown = set(changes) - set(_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable through this service: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if "requester_email" in changes:
        changes["requester_email"] = _normalise_email(changes["requester_email"], errors)
    if "requester_name" in changes:
        changes["requester_name"] = _clean_name(changes["requester_name"], errors)
    if "received_at" in changes and changes["received_at"] is not None:
        _check_received_at(changes["received_at"], errors)
    if "channel" in changes and changes["channel"] not in Channel.values:
        errors["channel"] = [f"Unknown channel {changes['channel']!r}."]
    moved = {name for name in ("regime", "received_at") if name in changes and changes[name] != getattr(request, name)}
    if moved and not request.is_open:
        errors["__all__"] = ["The regime and the received date of an answered request cannot change."]
    if "regime" in moved:
        rights = [line.right for line in request.lines.select_related("right")]
        others = [r for r in request_governing_regimes(request) if r.pk != request.regime_id]
        _resolve_rights(rights, [changes["regime"], *others], errors)
    if errors:
        raise ValidationError(errors)
    return changes


_EDITABLE_FIELDS = [
    "requester_name",
    "requester_email",
    "account_ref",
    "subject_type",
    "regime",
    "channel",
    "received_at",
    "description",
    "assignee",
]


@transaction.atomic
def rights_request_update(*, request: RightsRequest, actor: User | None, **changes: Any) -> RightsRequest:
    """Correct the details of a request (compliance staff). Deadlines follow a new regime or receipt date."""
    _require(actor, "requests_app.change_rightsrequest", "You cannot change rights requests.")
    request = _lock(request)
    changes = rights_request_update_check(request=request, **changes)
    changed = [name for name, value in changes.items() if getattr(request, name) != value]
    for name in changed:
        setattr(request, name, changes[name])
    if changed:
        set_history_actor(request, actor)
        request.save(update_fields=[*changed, "updated_at"])
    if "received_at" in changed:
        RequestEvent.objects.filter(request=request, type=EventType.RECEIVED).update(at=request.received_at)
    if "regime" in changed:
        # The new primary regime governs; the old one stays only where it governs on another basis.
        RequestRegime.objects.filter(request=request, basis=RequestRegime.Basis.PRIMARY).exclude(
            regime=request.regime
        ).delete()
        RequestRegime.objects.get_or_create(
            request=request, regime=request.regime, defaults={"basis": RequestRegime.Basis.PRIMARY}
        )
    if {"regime", "received_at"} & set(changed):
        rights_request_recompute(request=request)
    return request


@transaction.atomic
def rights_request_assign(*, request: RightsRequest, assignee: User | None, actor: User | None) -> RightsRequest:
    """Give the request to a handler (or nobody)."""
    _require(actor, "requests_app.change_rightsrequest", "You cannot assign rights requests.")
    request = _lock(request)
    if assignee is not None and not user_may_handle_requests(assignee):
        raise ValidationError(
            {"assignee": f"{assignee.get_username()} cannot handle rights requests (not an agent or an officer)."}
        )
    request.assignee = assignee
    set_history_actor(request, actor)
    request.save(update_fields=["assignee", "updated_at"])
    return request


@transaction.atomic
def rights_request_identity_record(
    *,
    request: RightsRequest,
    method: str,
    outcome: str,
    actor: User | None,
    note: str = "",
    at: dt.datetime | None = None,
) -> RightsRequest:
    """Record how the requester's identity was checked and with what result.

    Only the method and the outcome are kept, never a copy of an identity document.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers record identity verification.")
    request = _lock(request)
    _check_verification(request, method=method, outcome=outcome)
    request.identity_method = method
    request.identity_outcome = outcome
    request.identity_note = note
    request.identity_verified_by = actor
    request.identity_verified_at = at or timezone.now()
    fields = ["identity_method", "identity_outcome", "identity_note", "identity_verified_by", "identity_verified_at"]
    if outcome == IdentityOutcome.VERIFIED and request.status == RequestStatus.AWAITING_IDENTITY:
        request.status = RequestStatus.IN_PROGRESS
        fields.append("status")
    set_history_actor(request, actor)
    request.save(update_fields=[*fields, "updated_at"])
    return request


def _check_verification(
    request: RightsRequest, *, method: str, outcome: str, extra: dict[str, Any] | None = None
) -> None:
    errors: dict[str, list[str]] = dict(extra or {})
    if outcome not in IdentityOutcome.values or outcome == IdentityOutcome.PENDING:
        errors["identity_outcome"] = ["Choose verified, could not be verified or not required."]
    if method and method not in IdentityMethod.values:
        errors["identity_method"] = [f"Unknown method {method!r}."]
    if outcome == IdentityOutcome.VERIFIED and not method:
        errors["identity_method"] = ["Say how the identity was verified."]
    if not request.is_open:
        errors["__all__"] = ["The request is no longer open."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rights_request_account_identity_record(
    *, request_id: int, method: str, outcome: str, actor: User | None, note: str = "", at: dt.datetime | None = None
) -> RightsRequest:
    """Record how the requester was shown to hold the request's account reference, and with what result.

    Needed when the account's email is not the requester's verified email
    (``requests_app.selectors.request_identifiers``): until then fulfilment leaves
    the account out. It covers the account reference as it is now; a corrected
    reference needs its own verification. ``actor=None`` is the system itself (a
    signed-in account on a future privacy center, or single sign-on). Only the
    method and the outcome are kept, never a copy of a document.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers record identity verification.")
    request = RightsRequest.objects.select_for_update().select_related("regime").get(pk=request_id)
    account_ref = (request.account_ref or "").strip()
    if outcome == IdentityOutcome.NOT_REQUIRED:
        extra = {"identity_outcome": ["An account reference is used only once verified: choose an outcome."]}
    else:
        extra = {}
    if not account_ref:
        extra["__all__"] = ["The request names no account reference."]
    _check_verification(request, method=method, outcome=outcome, extra=extra)
    request.account_identity_ref = account_ref
    request.account_identity_method = method
    request.account_identity_outcome = outcome
    request.account_identity_note = (note or "").strip()
    request.account_identity_verified_by = actor
    request.account_identity_verified_at = at or timezone.now()
    fields = [
        "account_identity_ref",
        "account_identity_method",
        "account_identity_outcome",
        "account_identity_note",
        "account_identity_verified_by",
        "account_identity_verified_at",
    ]
    set_history_actor(request, actor)
    request.save(update_fields=[*fields, "updated_at"])
    return request


@transaction.atomic
def request_note_add(*, request: RightsRequest, body: str, actor: User | None) -> RequestNote:
    """Add an internal note to the request's timeline."""
    _require(actor, "requests_app.add_requestnote", "You cannot add notes.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the note."})
    note = RequestNote(request=request, body=body, author=actor)
    set_history_actor(note, actor)
    note.save()
    return note


# ------------------------------------------------------------------------------
# The ledger
# ------------------------------------------------------------------------------


@transaction.atomic
def request_event_add(
    *,
    request: RightsRequest,
    type: str,
    at: dt.date | dt.datetime,
    actor: User | None,
    reason: str = "",
    extended_to: dt.date | None = None,
    api_client: ApiClient | None = None,
    by_letter: bool = False,
) -> RequestEvent:
    """Add an event to the ledger and recompute the request's deadlines.

    ``type`` is one of ``MANUAL_EVENT_TYPES``; ``at`` a date or datetime, not in the
    future and not before receipt. An extension needs a reason, must be notified on
    or before the current due date and must move at least one open line (each line
    moves only as far as every regime granting it allows, REGULATIONS §1a); where a
    governing regime lets the controller set the new date (Swiss FADP), ``extended_to``
    is that date, told to the requester. Only compliance officers (or an
    integration) can extend.
    ``by_letter``: the event is a letter ``communication_send`` is about to store; it
    counts (and an acknowledgement stamps the request) only once the letter is delivered.
    """
    errors: dict[str, list[str]] = {}
    if type not in MANUAL_EVENT_TYPES:
        raise ValidationError({"type": [f"Events of type {type!r} cannot be added directly."]})
    if type == EventType.EXTENSION_NOTIFIED:
        _require(actor, DECIDE_PERMISSION, "Only compliance officers can extend a request.")
    else:
        _require(actor, "requests_app.add_requestevent", "You cannot add events.")
    request = _lock(request)
    when = _as_datetime(at)
    reason = (reason or "").strip()
    if when > timezone.now() + _FUTURE_TOLERANCE:
        errors["at"] = ["An event cannot be in the future."]
    elif when < EARLIEST or _local_day(when) < _local_day(request.received_at):
        errors["at"] = ["An event cannot be before the request was received."]
    if not request.is_open:
        errors["__all__"] = ["The request has been answered; no more events can be added."]
    # A letter that could not be delivered told the requester nothing: its event does not block a new one.
    types = list(request.events.filter(communication__failed_at__isnull=True).values_list("type", flat=True))
    if extended_to is not None and type != EventType.EXTENSION_NOTIFIED:
        errors["extended_to"] = ["Only an extension has a new date."]
    if type == EventType.EXTENSION_NOTIFIED:
        if not reason:
            errors["reason"] = ["Give the reason for the extension; the requester must be told it."]
        if EventType.EXTENSION_NOTIFIED in types:
            errors["type"] = ["The request has already been extended."]
        elif "at" not in errors:
            _check_extension(request, _local_day(when), extended_to, errors)
    elif type == EventType.IDENTITY_REQUESTED:
        if request.identity_outcome == IdentityOutcome.NOT_REQUIRED:
            errors["type"] = ["Identity verification is not allowed for the rights asked (e.g. CCPA §7026)."]
    elif type == EventType.CLARIFICATION_REQUESTED:
        if _outstanding_clarification(types):
            errors["type"] = ["A clarification is already awaited."]
    elif type == EventType.CLARIFICATION_RECEIVED and not _outstanding_clarification(types):
        errors["type"] = ["No clarification was asked for."]
    if errors:
        raise ValidationError(errors)

    event = _record_event(
        request=request,
        type=type,
        at=when,
        actor=actor,
        reason=reason,
        api_client=api_client,
        extended_to=extended_to,
    )
    fields = []
    new_status = _STATUS_AFTER_EVENT[type]
    if new_status is not None and request.status != new_status:
        request.status = new_status
        fields.append("status")
    if type == EventType.ACKNOWLEDGED and request.acknowledged_at is None and not by_letter:
        request.acknowledged_at = when
        fields.append("acknowledged_at")
    if type == EventType.ACKNOWLEDGED and request.status == RequestStatus.RECEIVED:
        request.status = RequestStatus.IN_PROGRESS
        fields.append("status")
    if fields:
        set_history_actor(request, actor)
        request.save(update_fields=[*fields, "updated_at"])
    rights_request_recompute(request=request)
    return event


def _check_extension(
    request: RightsRequest, on: dt.date, extended_to: dt.date | None, errors: dict[str, list[str]]
) -> None:
    """An extension must be in time, give a date where a governing regime needs one, and move a line."""
    current = rights_request_deadlines(request=request)
    if on > current.general_due:
        due = date_format(current.general_due)
        errors["at"] = [f"An extension must be notified on or before the due date ({due})."]
        return
    regimes = request_governing_regimes(request)
    open_rights = set(request.lines.exclude(status=RequestLine.Status.COMPLETED).values_list("right__slug", flat=True))
    granting = {code for right in open_rights for code in current.line_regimes.get(right, ())}
    chosen = [r for r in regimes if r.code in granting and r.extension_to_chosen_date]
    if chosen and extended_to is None:
        errors["extended_to"] = [f"{_names(chosen)}: give the date the requester is told the answer will come by."]
        return
    if extended_to is not None and extended_to <= current.due_date:
        errors["extended_to"] = [f"The new date must be after the current due date ({date_format(current.due_date)})."]
        return
    preview = rights_request_deadlines(
        request=request, extra=[LedgerEntry(EventType.EXTENSION_NOTIFIED, on, extended_to)]
    )
    if not any(preview.line_due.get(r) != current.line_due.get(r) for r in open_rights):
        fixed = [r for r in regimes if r.code in granting and not (r.extension_period or r.extension_to_chosen_date)]
        verb = "allows" if len(fixed) == 1 else "allow"
        errors["type"] = [f"{_names(fixed)} {verb} no extension." if fixed else "No open line can be extended."]


@transaction.atomic
def rights_request_regime_add(
    *, request: RightsRequest, regime: Regime, reason: str, actor: User | None
) -> RequestRegime:
    """Let one more regime govern the request (a correction of the law that applies), with the reason.

    Recorded in the ledger; the lines' granting regimes and due dates follow.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers change the regimes governing a request.")
    request = _lock(request)
    errors = _regime_change_errors(request, reason)
    if request.request_regimes.filter(regime=regime).exists():
        errors["regime"] = [f"{regime.name} already governs this request."]
    elif not regime.is_active:
        errors["regime"] = [f"{regime.name} is not active."]
    if errors:
        raise ValidationError(errors)
    _ensure_regime_rows(request)
    row = RequestRegime.objects.create(request=request, regime=regime, basis=RequestRegime.Basis.STAFF)
    _record_event(
        request=request,
        type=EventType.REGIME_ADDED,
        at=timezone.now(),
        actor=actor,
        reason=reason.strip(),
        regime=regime,
    )
    rights_request_recompute(request=request)
    return row


@transaction.atomic
def rights_request_regime_drop(*, request: RightsRequest, regime: Regime, reason: str, actor: User | None) -> None:
    """Stop a regime governing the request (e.g. the requester does not live where they said), with the reason.

    Refused for the primary regime (change it first) and when a line would be left
    with no regime granting its right.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers change the regimes governing a request.")
    request = _lock(request)
    errors = _regime_change_errors(request, reason)
    _ensure_regime_rows(request)
    row = request.request_regimes.filter(regime=regime).first()
    if row is None:
        errors["regime"] = [f"{regime.name} does not govern this request."]
    elif regime.pk == request.regime_id:
        errors["regime"] = ["The primary regime cannot be dropped: choose another primary regime first."]
    else:
        remaining = [r for r in request_governing_regimes(request) if r.pk != regime.pk]
        granted = set(RegimeRight.objects.filter(regime__in=remaining).values_list("right__slug", flat=True))
        orphans = sorted(set(request.lines.values_list("right__slug", flat=True)) - granted)
        if orphans:
            errors["regime"] = ["No other governing regime grants: " + ", ".join(orphans) + "."]
    if errors:
        raise ValidationError(errors)
    assert row is not None
    row.delete()
    _record_event(
        request=request,
        type=EventType.REGIME_DROPPED,
        at=timezone.now(),
        actor=actor,
        reason=reason.strip(),
        regime=regime,
    )
    rights_request_recompute(request=request)


def _regime_change_errors(request: RightsRequest, reason: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not (reason or "").strip():
        errors["reason"] = ["Give the reason: it is kept in the request's ledger."]
    if not request.is_open:
        errors["__all__"] = ["The request has been answered; the regimes it was answered under stay."]
    return errors


def _ensure_regime_rows(request: RightsRequest) -> None:
    """A request logged before regimes were recorded per request gets its primary regime's row."""
    if not request.request_regimes.exists():
        RequestRegime.objects.create(request=request, regime=request.regime, basis=RequestRegime.Basis.PRIMARY)


def _outstanding_clarification(types: Sequence[str]) -> bool:
    waiting = False
    for type_ in types:
        if type_ == EventType.CLARIFICATION_REQUESTED:
            waiting = True
        elif type_ == EventType.CLARIFICATION_RECEIVED:
            waiting = False
    return waiting


# ------------------------------------------------------------------------------
# Lines, response and closing
# ------------------------------------------------------------------------------


def request_line_complete_check(
    *, line: RequestLine, outcome: str, reason: str, refusal_ground: str = "", evidence_note: str = ""
) -> None:
    """Raise the per-field ``ValidationError`` completing ``line`` this way would raise, writing nothing."""
    request = line.request
    reason = (reason or "").strip()
    evidence_note = (evidence_note or "").strip()
    errors: dict[str, list[str]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = ["Choose an outcome."]
    elif outcome != Outcome.FULFILLED and not reason:
        errors["outcome_reason"] = ["Give the reason for anything short of fulfilled (Art. 12(4))."]
    if refusal_ground:
        if refusal_ground not in RefusalGround.values:
            errors["refusal_ground"] = [f"Unknown ground {refusal_ground!r}."]
        elif outcome not in {Outcome.REFUSED, Outcome.PARTIALLY_FULFILLED}:
            errors["refusal_ground"] = ["A refusal ground goes with a refused or partially fulfilled outcome."]
        elif refusal_ground in GROUNDS_NEEDING_EVIDENCE and not evidence_note:
            errors["evidence_note"] = ["Record the evidence: the controller must be able to prove it (Art. 12(5))."]
    needs_identity = outcome in {Outcome.FULFILLED, Outcome.PARTIALLY_FULFILLED} and not request.identity_confirmed
    granting = list(line.regimes.all()) or request_governing_regimes(request)
    if needs_identity and _verification_allowed(granting, [line.right])[line.right.pk]:
        errors["outcome"] = ["Record the requester's identity verification before fulfilling."]
    if not request.is_open:
        errors["__all__"] = ["The request is no longer open."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def request_line_complete(
    *,
    line: RequestLine,
    outcome: str,
    reason: str,
    actor: User | None,
    refusal_ground: str = "",
    evidence_note: str = "",
    at: dt.datetime | None = None,
) -> RequestLine:
    """Record a line's outcome. Anything short of fulfilled needs a reason (Art. 12(4)).

    Refusing as manifestly unfounded or excessive needs an evidence note (Art. 12(5)).
    Fulfilling needs the requester's identity confirmed where the right allows
    verification. Completing the same line again with the same outcome is a no-op,
    so a retried worker job does no harm. When the last line is completed the
    ``fulfilled`` event is recorded.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers can complete, refuse or close request lines.")
    request = _lock(line.request)
    line = RequestLine.objects.select_for_update().select_related("right").get(pk=line.pk)
    reason = (reason or "").strip()
    evidence_note = (evidence_note or "").strip()
    if line.status == RequestLine.Status.COMPLETED:
        if line.outcome == outcome:
            return line
        raise ValidationError({"outcome": [f"This line was already completed as {line.get_outcome_display()}."]})
    request_line_complete_check(
        line=line, outcome=outcome, reason=reason, refusal_ground=refusal_ground, evidence_note=evidence_note
    )

    when = at or timezone.now()
    line.status = RequestLine.Status.COMPLETED
    line.outcome = outcome
    line.outcome_reason = reason
    line.refusal_ground = refusal_ground
    line.evidence_note = evidence_note
    line.completed_at = when
    line.completed_by = actor
    set_history_actor(line, actor)
    line.save()
    _record_event(request=request, type=EventType.LINE_COMPLETED, at=when, actor=actor, reason=reason, line=line)
    if not request.lines.exclude(status=RequestLine.Status.COMPLETED).exists():
        _record_event(request=request, type=EventType.FULFILLED, at=when, actor=actor)
    if request.status in {RequestStatus.RECEIVED, RequestStatus.AWAITING_IDENTITY}:
        request.status = RequestStatus.IN_PROGRESS
        set_history_actor(request, actor)
        request.save(update_fields=["status", "updated_at"])
    rights_request_recompute(request=request)
    return line


def summary_outcome(outcomes: Sequence[str]) -> str:
    """The request's outcome from its lines' outcomes."""
    distinct = set(outcomes)
    if len(distinct) == 1:
        return distinct.pop()
    if distinct & {Outcome.FULFILLED, Outcome.PARTIALLY_FULFILLED}:
        return Outcome.PARTIALLY_FULFILLED
    return Outcome.REFUSED


def request_responded_record(
    *, request: RightsRequest, at: dt.datetime, actor: User | None, by_letter: bool = False
) -> RequestEvent:
    """Record that the answer went to the requester (called by ``communication_send``).

    ``by_letter``: ``responded_at`` is stamped when the letter is delivered, not now.
    """
    request = _lock(request)
    event = _record_event(request=request, type=EventType.RESPONDED, at=at, actor=actor)
    request.status = RequestStatus.RESPONDED
    fields = ["status"]
    if request.responded_at is None and not by_letter:
        request.responded_at = at
        fields.append("responded_at")
    set_history_actor(request, actor)
    request.save(update_fields=[*fields, "updated_at"])
    return event


@transaction.atomic
def rights_request_close(*, request: RightsRequest, actor: User | None, at: dt.datetime | None = None) -> RightsRequest:
    """Close a request whose lines are all completed; records its outcome and whether it was on time.

    On time means every line was completed by its due date and the answer (the
    response letter, or the closing itself when none was sent) went out by then.
    """
    _require(actor, DECIDE_PERMISSION, "Only compliance officers can close a request.")
    request = _lock(request)
    if request.status == RequestStatus.CLOSED:
        raise ValidationError("The request is already closed.")
    lines = list(request.lines.all())
    if any(line.status != RequestLine.Status.COMPLETED for line in lines):
        raise ValidationError("Complete every line (with its outcome) before closing the request.")
    when = at or timezone.now()
    answered_on = _local_day(request.responded_at or when)
    on_time = all(
        line.due_date is None or (_local_day(line.completed_at) <= line.due_date and answered_on <= line.due_date)
        for line in lines
    )
    request.status = RequestStatus.CLOSED
    request.closed_at = when
    request.outcome = summary_outcome([line.outcome for line in lines])
    request.closed_on_time = on_time
    set_history_actor(request, actor)
    request.save(update_fields=["status", "closed_at", "outcome", "closed_on_time", "updated_at"])
    _record_event(request=request, type=EventType.CLOSED, at=when, actor=actor)
    return request
