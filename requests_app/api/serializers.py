"""API shapes. Writes go through the services; these only check and present."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from compliance.baseline import REGIMES, RIGHTS
from compliance.models import Regime
from requests_app.models import Appeal, Channel, EventType, RequestEvent, RequestLine, RightsRequest
from requests_app.selectors import appeal_sla, request_sla, rights_request_has_duplicate_of_client
from requests_app.services import rights_request_check
from requests_app.services.requests import MANUAL_EVENT_TYPES, request_governing_regimes

# The API contract: the rights of the policy; the regimes are rows (a regime added in the admin is
# accepted, and listed in the schema, without a code change). The baseline's codes are the fallback
# when the table cannot be read (schema generation before migrations).
BASELINE_REGIME_CODES = [regime["code"] for regime in REGIMES]
RIGHT_CODES = [slug for slug, _name, _description in RIGHTS]


def regime_codes() -> list[str]:
    try:
        with transaction.atomic():  # a savepoint: a missing table must not break the caller's transaction
            codes = list(Regime.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
    except DatabaseError:
        codes = []
    return codes or BASELINE_REGIME_CODES


# RFC 2606 reserves .invalid: an address that can never belong to a real requester.
CROSS_CHECK_STAND_IN_EMAIL = "cross-check@example.invalid"


class RightsRequestCreateSerializer(serializers.Serializer):
    requester_email = serializers.EmailField(max_length=254)
    requester_name = serializers.CharField(max_length=200)
    account_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    regime = serializers.ChoiceField(
        choices=BASELINE_REGIME_CODES,
        required=False,
        help_text="The requester's primary regime. Optional: derived from requester_country and requester_region "
        "when left out. The request is governed by every applicable regime (see applicable_regimes in the answer).",
    )
    requester_country = serializers.ChoiceField(
        choices=[code for code, _name in countries],
        required=False,
        allow_blank=True,
        default="",
        help_text="ISO 3166-1 alpha-2 code of the country where the requester lives; brings in its laws.",
    )
    requester_region = serializers.RegexField(
        r"^[A-Za-z0-9]{1,3}$",
        max_length=3,
        required=False,
        allow_blank=True,
        default="",
        help_text="US state or Canadian province code (ISO 3166-2 without the country), e.g. CA, VA, QC.",
    )
    rights = serializers.ListField(
        child=serializers.ChoiceField(choices=RIGHT_CODES), min_length=1, max_length=len(RIGHT_CODES)
    )
    received_at = serializers.DateTimeField(required=False, help_text="ISO 8601; defaults to now; never in the future.")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["regime"].choices = regime_codes()

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        """Report every bad field at once, including the checks that need several fields
        (a right the regime does not grant) when another field is also wrong."""
        valid = super().is_valid()
        if not valid:
            self._add_service_errors()
        if self._errors and raise_exception:
            raise serializers.ValidationError(self.errors)
        return not self._errors

    def _add_service_errors(self) -> None:
        if not isinstance(self.initial_data, dict):
            return
        values = {}
        for name, field in self.fields.items():
            if name in self._errors:
                continue
            try:
                values[name] = field.run_validation(field.get_value(self.initial_data))
            except (serializers.ValidationError, DjangoValidationError, SkipField):
                continue  # SkipField: an optional field left out (e.g. received_at), nothing to check
        # A field that failed its own validation is already reported; these stand-ins only let the
        # cross-field check run so the same 400 also carries the other fields' errors.
        try:
            rights_request_check(
                requester_name=values.get("requester_name", "-"),
                requester_email=values.get("requester_email", CROSS_CHECK_STAND_IN_EMAIL),
                regime=values.get("regime"),
                rights=values.get("rights", []),
                channel=values.get("channel", Channel.API),
                received_at=values.get("received_at"),
                requester_country=values.get("requester_country", ""),
                requester_region=values.get("requester_region", ""),
            )
        except DjangoValidationError as error:
            for name, messages in error.message_dict.items():
                if name in self.fields and name not in self._errors:
                    self._errors[name] = messages

    def validate_rights(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each right can be asked for once.")
        return value

    def validate_received_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now():
            raise serializers.ValidationError("The received date cannot be in the future.")
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
        "description": "A date (start of that day in the controller's timezone) or an ISO 8601 datetime.",
    }
)
class DateOrDateTimeField(serializers.Field):
    default_error_messages = {"invalid": "Give a date (YYYY-MM-DD) or an ISO 8601 datetime."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            parsed = parse_datetime(data)
            if parsed is not None:
                return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
            day = parse_date(data)
        except ValueError:
            self.fail("invalid")
        if day is None:
            self.fail("invalid")
        return day

    def to_representation(self, value):
        return value.isoformat()


class EventCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[(t.value, t.label) for t in MANUAL_EVENT_TYPES])
    at = DateOrDateTimeField(required=False, help_text="When it happened; defaults to now; never in the future.")
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Required for an extension."
    )
    extended_to = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="An extension under a regime where the controller sets the new date (Swiss FADP): the date the "
        "requester is told. Required there; refused with any other event.",
    )

    def validate(self, attrs):
        if attrs["type"] == EventType.EXTENSION_NOTIFIED and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": "Give the reason for the extension."})
        if attrs.get("extended_to") is not None and attrs["type"] != EventType.EXTENSION_NOTIFIED:
            raise serializers.ValidationError({"extended_to": "Only an extension has a new date."})
        return attrs


class AppealCreateSerializer(serializers.Serializer):
    lines = serializers.ListField(
        child=serializers.ChoiceField(choices=RIGHT_CODES),
        required=False,
        default=list,
        max_length=len(RIGHT_CODES),
        help_text="The rights of the refused or partly fulfilled lines appealed; all of them when left out.",
    )
    received_at = serializers.DateTimeField(
        required=False, help_text="ISO 8601; defaults to now; never in the future nor before the answer appealed."
    )
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    statement = serializers.CharField(
        max_length=10000, required=False, allow_blank=True, default="", help_text="Why the requester disagrees."
    )

    def validate_lines(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each line can be appealed once.")
        return value

    def validate_received_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now():
            raise serializers.ValidationError("The appeal cannot be received in the future.")
        return value


class AppealSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField(help_text="Rights of the lines appealed.")
    regimes = serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        read_only=True,
        help_text="The regimes whose appeal period applies (REGULATIONS §1b); due on the earliest of their dates.",
    )
    reopened_lines = serializers.SerializerMethodField(help_text="Rights of the lines a reversal reopened.")
    sla_state = serializers.SerializerMethodField(help_text="on_track, due_soon, urgent, overdue or closed.")

    class Meta:
        model = Appeal
        fields = [
            "status",
            "channel",
            "received_at",
            "lines",
            "regimes",
            "due_date",
            "target_date",
            "is_extended",
            "sla_state",
            "outcome",
            "outcome_reason",
            "reopened_lines",
            "decided_at",
        ]

    def get_lines(self, obj) -> list[str]:
        return [line.right.slug for line in obj.lines.all()]

    def get_reopened_lines(self, obj) -> list[str]:
        return [line.right.slug for line in obj.reversed_lines.all()]

    def get_sla_state(self, obj) -> str:
        return appeal_sla(obj)


class RequestLineSerializer(serializers.ModelSerializer):
    right = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    regimes = serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        read_only=True,
        help_text="The applicable regimes that grant this right; the line is due on the earliest of their dates.",
    )

    class Meta:
        model = RequestLine
        fields = ["right", "status", "outcome", "due_date", "regimes"]


class RequestEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestEvent
        fields = ["type", "at", "reason", "extended_to"]


class RightsRequestSerializer(serializers.ModelSerializer):
    regime = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="The requester's primary regime."
    )
    applicable_regimes = serializers.SerializerMethodField(
        help_text="Codes of every regime that governs the request (REGULATIONS §1a), the primary regime first."
    )
    sla_state = serializers.SerializerMethodField(help_text="on_track, due_soon, urgent, overdue, paused or closed.")
    possible_duplicate = serializers.SerializerMethodField(
        help_text="This client sent an earlier open request by the same requester for one of the same rights "
        "(requests of other clients are not considered)."
    )
    lines = RequestLineSerializer(many=True, read_only=True)

    class Meta:
        model = RightsRequest
        fields = [
            "reference",
            "status",
            "regime",
            "applicable_regimes",
            "channel",
            "received_at",
            "due_date",
            "acknowledge_by",
            "target_date",
            "is_extended",
            "sla_state",
            "possible_duplicate",
            "lines",
        ]

    def get_applicable_regimes(self, obj) -> list[str]:
        return [regime.code for regime in request_governing_regimes(obj)]

    def get_sla_state(self, obj) -> str:
        return request_sla(obj)

    def get_possible_duplicate(self, obj) -> bool:
        request = self.context.get("request")
        client = getattr(request, "user", None)
        return rights_request_has_duplicate_of_client(request=obj, client=client)


class RightsRequestDetailSerializer(RightsRequestSerializer):
    events = RequestEventSerializer(many=True, read_only=True)
    appeals = AppealSerializer(many=True, read_only=True, help_text="Appeals of the request's refusals, newest first.")

    class Meta(RightsRequestSerializer.Meta):
        fields = [*RightsRequestSerializer.Meta.fields, "events", "appeals"]
