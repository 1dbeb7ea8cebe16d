"""JSON API for integrations (support desk, web form): intake and ledger events.

A client sees only the requests it created. Every 4xx is documented in the schema.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import prefetch_related_objects
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from requests_app.api.authentication import BearerTokenAuthentication
from requests_app.api.parsers import BoundedJSONParser
from requests_app.api.serializers import (
    AppealCreateSerializer,
    EventCreateSerializer,
    RightsRequestCreateSerializer,
    RightsRequestDetailSerializer,
    RightsRequestSerializer,
)
from requests_app.api.throttling import ApiClientRateThrottle
from requests_app.models import ApiClient, RightsRequest
from requests_app.services import request_event_add_idempotent, rights_request_open_idempotent
from requests_app.services.api_clients import IdempotencyConflict, appeal_open_idempotent

MAX_IDEMPOTENCY_KEY = 255
REFERENCE_PATTERN = re.compile(r"DSR-\d{4}-\d{5,7}")

_MESSAGES = {
    "anyOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    ]
}
FIELD_ERRORS = OpenApiResponse(
    response={
        "type": "object",
        "description": "Field name → messages; `non_field_errors` or `detail` for the request as a whole.",
        "additionalProperties": _MESSAGES,
    },
    description="Bad input: field errors.",
    examples=[
        OpenApiExample(
            "Right not granted",
            value={"rights": ["Canada PIPEDA and UK GDPR do not grant: limit_sensitive."]},
            response_only=True,
            status_codes=["400"],
        ),
        OpenApiExample(
            "Future date and bad email",
            value={
                "requester_email": ["Enter a valid email address."],
                "received_at": ["The received date cannot be in the future."],
            },
            response_only=True,
            status_codes=["400"],
        ),
    ],
)
_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
UNAUTHORISED = OpenApiResponse(response=_DETAIL, description="Missing, invalid or revoked token.")
NOT_FOUND = OpenApiResponse(response=_DETAIL, description="No request with this reference for this client.")
CONFLICT = OpenApiResponse(response=_DETAIL, description="Idempotency-Key reused with a different body.")
UNSUPPORTED = OpenApiResponse(response=_DETAIL, description="The body must be application/json.")
TOO_LARGE = OpenApiResponse(response=_DETAIL, description="The body is over the size limit (2.5 MB by default).")
THROTTLED = OpenApiResponse(
    response=_DETAIL,
    description="Over this client's rate limit (API_RATE_LIMIT); `Retry-After` gives the seconds to wait.",
)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (≤ 255 characters, e.g. a UUID). A retry with the same key and body returns "
    "the first answer and changes nothing; the same key with another body is a 409.",
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_conflict"


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ValidationError({"Idempotency-Key": [f"Give 1 to {MAX_IDEMPOTENCY_KEY} printable characters."]})
    return key


def _body_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _domain_errors(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({field: messages for field, messages in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


NOT_FOUND_MESSAGE = "No rights request with this reference was made by this API client."


class ApiView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    parser_classes = [BoundedJSONParser]
    throttle_classes = [ApiClientRateThrottle]

    def _client_request(self, reference: str, *, detail: bool = True) -> RightsRequest:
        """The client's own request; with ``detail`` its events and appeals too (the detail serializer's)."""
        if not REFERENCE_PATTERN.fullmatch(reference):
            raise NotFound(NOT_FOUND_MESSAGE)
        queryset = RightsRequest.objects.select_related("regime").prefetch_related("lines__right", "lines__regimes")
        if detail:
            queryset = queryset.prefetch_related(
                "events", "appeals__lines__right", "appeals__regimes", "appeals__reversed_lines__right"
            )
        found = queryset.filter(reference=reference, api_client=cast(ApiClient, self.request.user)).first()
        if found is None:
            # Said in the API's words, not Django's "No RightsRequest matches the given query."
            raise NotFound(NOT_FOUND_MESSAGE)
        return found


class RightsRequestCreateView(ApiView):
    @extend_schema(
        operation_id="rights_requests_create",
        summary="Log a rights request",
        parameters=[IDEMPOTENCY_KEY],
        request=RightsRequestCreateSerializer,
        responses={
            201: RightsRequestSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORISED,
            409: CONFLICT,
            413: TOO_LARGE,
            415: UNSUPPORTED,
            429: THROTTLED,
        },
        tags=["rights requests"],
    )
    def post(self, request):
        key = _idempotency_key(request)
        serializer = RightsRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rights_request, created = rights_request_open_idempotent(
                client=request.user,
                idempotency_key=key,
                body_hash=_body_hash(request.data),
                data=dict(serializer.validated_data),
            )
        except DjangoValidationError as exc:
            raise _domain_errors(exc) from exc
        except IdempotencyConflict as exc:
            raise Conflict() from exc
        if created:
            # The request as intake stored it (its primary regime in hand): only its lines are read back.
            prefetch_related_objects([rights_request], "lines__right", "lines__regimes")
        else:
            rights_request = self._client_request(rights_request.reference, detail=False)
        response = Response(
            RightsRequestSerializer(rights_request, context={"request": request}).data, status=status.HTTP_201_CREATED
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class RightsRequestDetailView(ApiView):
    @extend_schema(
        operation_id="rights_requests_retrieve",
        summary="A rights request, its lines and its events",
        responses={200: RightsRequestDetailSerializer, 401: UNAUTHORISED, 404: NOT_FOUND, 429: THROTTLED},
        tags=["rights requests"],
    )
    def get(self, request, reference: str):
        return Response(
            RightsRequestDetailSerializer(self._client_request(reference), context={"request": request}).data
        )


class RightsRequestEventCreateView(ApiView):
    @extend_schema(
        operation_id="rights_requests_events_create",
        summary="Add an event to the ledger; answers with the recomputed request",
        parameters=[IDEMPOTENCY_KEY],
        request=EventCreateSerializer,
        responses={
            201: RightsRequestDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORISED,
            404: NOT_FOUND,
            409: CONFLICT,
            413: TOO_LARGE,
            415: UNSUPPORTED,
            429: THROTTLED,
        },
        tags=["rights requests"],
    )
    def post(self, request, reference: str):
        rights_request = self._client_request(reference)
        key = _idempotency_key(request)
        serializer = EventCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("at", timezone.now())
        try:
            rights_request, created = request_event_add_idempotent(
                client=request.user,
                request=rights_request,
                idempotency_key=key,
                body_hash=_body_hash(request.data),
                data=data,
            )
        except DjangoValidationError as exc:
            raise _domain_errors(exc) from exc
        except IdempotencyConflict as exc:
            raise Conflict() from exc
        response = Response(
            RightsRequestDetailSerializer(self._client_request(reference), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class RightsRequestAppealCreateView(ApiView):
    @extend_schema(
        operation_id="rights_requests_appeals_create",
        summary="Log the requester's appeal of a refusal (US state laws, REGULATIONS §1b); answers with the request",
        description="The appeal gets its own due date from the appeal period of the regimes that give one "
        "(Virginia 60 days, Oregon 45, Colorado 45 + 60 with notice); the requester is sent a receipt letter. "
        "Refused with field errors when the request is not answered yet, an appeal is already open, a line was "
        "fulfilled or already appealed, or no governing law gives an appeal.",
        parameters=[IDEMPOTENCY_KEY],
        request=AppealCreateSerializer,
        responses={
            201: RightsRequestDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORISED,
            404: NOT_FOUND,
            409: CONFLICT,
            413: TOO_LARGE,
            415: UNSUPPORTED,
            429: THROTTLED,
        },
        tags=["rights requests"],
    )
    def post(self, request, reference: str):
        rights_request = self._client_request(reference)
        key = _idempotency_key(request)
        serializer = AppealCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rights_request, created = appeal_open_idempotent(
                client=request.user,
                request=rights_request,
                idempotency_key=key,
                body_hash=_body_hash(request.data),
                data=dict(serializer.validated_data),
            )
        except DjangoValidationError as exc:
            raise _domain_errors(exc) from exc
        except IdempotencyConflict as exc:
            raise Conflict() from exc
        response = Response(
            RightsRequestDetailSerializer(self._client_request(reference), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class ApiSchemaView(SpectacularAPIView):
    """The OpenAPI schema, built one request at a time per process.

    drf-spectacular loads its extensions lazily on the first build and is not safe against two builds
    at once: concurrent first requests on a threaded server answered 500 (found by the intake load
    benchmark). The schema is small and rarely fetched, so a lock costs nothing.
    """

    _build_lock = threading.Lock()

    def dispatch(self, request, *args, **kwargs):
        # dispatch, not get: the parent's get carries the schema's own extend_schema declaration.
        with self._build_lock:
            return super().dispatch(request, *args, **kwargs)
