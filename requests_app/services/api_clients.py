"""API tokens (one per integration, stored as a hash) and idempotent intake."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.history import set_history_actor
from requests_app.models import ApiClient, IdempotencyRecord, RightsRequest
from requests_app.services.appeals import appeal_open
from requests_app.services.requests import _require, request_event_add, rights_request_open

TOKEN_PREFIX = "dsr_"  # noqa: S105 - a public marker, not a secret
# last_used_at is written at most this often, so reads do not turn into writes.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused with a different request body."""


def token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_client_create(*, name: str, actor: User | None) -> tuple[ApiClient, str]:
    """Create an integration and its token. The token is returned once and never stored."""
    _require(actor, "requests_app.add_apiclient", "You cannot create API clients.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Name the integration."]})
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": ["An API client with this name exists."]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(name=name, token_prefix=token[:10], token_hash=token_hash(token), created_by=actor)
    set_history_actor(client, actor)
    client.save()
    return client, token


@transaction.atomic
def api_client_revoke(*, client: ApiClient, actor: User | None) -> ApiClient:
    """Stop a token from working. The client stays, for the record of what it created."""
    _require(actor, "requests_app.change_apiclient", "You cannot revoke API clients.")
    client.is_active = False
    client.revoked_at = timezone.now()
    set_history_actor(client, actor)
    client.save(update_fields=["is_active", "revoked_at"])
    return client


def api_client_authenticate(*, token: str) -> ApiClient | None:
    """The active client holding ``token``, or None."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    client = ApiClient.objects.filter(token_hash=token_hash(token), is_active=True).first()
    if client is None:
        return None
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at > _LAST_USED_RESOLUTION:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client


def _replay(client: ApiClient, key: str, endpoint: str, body_hash: str) -> RightsRequest | None:
    record = IdempotencyRecord.objects.filter(client=client, key=key).select_related("rights_request").first()
    if record is None:
        return None
    if record.body_hash != body_hash or record.endpoint != endpoint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request.")
    return RightsRequest.objects.get(pk=record.rights_request_id)


def idempotent_call(
    *,
    client: ApiClient,
    idempotency_key: str | None,
    endpoint: str,
    body_hash: str,
    perform: Callable[[], RightsRequest],
) -> tuple[RightsRequest, bool]:
    """Run ``perform`` once per (client, key); a retry gets the request it acted on, unchanged.

    Returns ``(request, performed)``. Two concurrent calls with the same key act
    once: the second insert of the key fails on its unique constraint, its
    transaction (everything ``perform`` wrote included) rolls back, and it answers
    with the first one's request. A key reused for a different body or endpoint
    raises ``IdempotencyConflict``.
    """
    if idempotency_key:
        existing = _replay(client, idempotency_key, endpoint, body_hash)
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            request = perform()
            if idempotency_key:
                IdempotencyRecord.objects.create(
                    client=client,
                    key=idempotency_key,
                    endpoint=endpoint,
                    body_hash=body_hash,
                    rights_request=request,
                    status_code=201,
                )
    except IntegrityError:
        existing = _replay(client, idempotency_key, endpoint, body_hash) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return request, True


def rights_request_open_idempotent(
    *, client: ApiClient, idempotency_key: str | None, body_hash: str, data: dict[str, Any]
) -> tuple[RightsRequest, bool]:
    """Open a request for an integration; with a key, a retry returns the first request."""
    return idempotent_call(
        client=client,
        idempotency_key=idempotency_key,
        endpoint="rights-requests",
        body_hash=body_hash,
        perform=lambda: rights_request_open(actor=None, api_client=client, **data),
    )


def request_event_add_idempotent(
    *,
    client: ApiClient,
    request: RightsRequest,
    idempotency_key: str | None,
    body_hash: str,
    data: dict[str, Any],
) -> tuple[RightsRequest, bool]:
    """Add an event for an integration; with a key, a retry adds nothing."""

    def perform() -> RightsRequest:
        request_event_add(request=request, actor=None, api_client=client, **data)
        return RightsRequest.objects.get(pk=request.pk)

    return idempotent_call(
        client=client,
        idempotency_key=idempotency_key,
        endpoint=f"rights-requests/{request.reference}/events",
        body_hash=body_hash,
        perform=perform,
    )


def appeal_open_idempotent(
    *,
    client: ApiClient,
    request: RightsRequest,
    idempotency_key: str | None,
    body_hash: str,
    data: dict[str, Any],
) -> tuple[RightsRequest, bool]:
    """Log an appeal an integration received; with a key, a retry logs nothing."""

    def perform() -> RightsRequest:
        appeal_open(request=request, actor=None, api_client=client, **data)
        return RightsRequest.objects.get(pk=request.pk)

    return idempotent_call(
        client=client,
        idempotency_key=idempotency_key,
        endpoint=f"rights-requests/{request.reference}/appeals",
        body_hash=body_hash,
        perform=perform,
    )
