"""Rights requests: the request, one line per right, the event ledger and what was sent.

Deadlines (``due_date``, ``acknowledge_by``, ``target_date`` and each line's
``due_date``) are computed by ``requests_app.deadlines`` from the regime row and
the event ledger, and written by the services whenever an event is added. They
are stored so lists can sort and filter on them; nobody types them in.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from compliance.models import Regime, Right, SubjectType


def history_user(request=None, **kwargs):
    """The staff user behind a change; an API client (``request.user`` in the API) is not one."""
    user = getattr(request, "user", None)
    return user if isinstance(user, get_user_model()) else None


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SUPPORT_TICKET = "support_ticket", "Support ticket"
    WEB_FORM = "web_form", "Web form"
    API = "api", "API"
    POST = "post", "Post"


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    AWAITING_IDENTITY = "awaiting_identity", "Awaiting identity information"
    AWAITING_CLARIFICATION = "awaiting_clarification", "Awaiting clarification"
    IN_PROGRESS = "in_progress", "In progress"
    RESPONDED = "responded", "Responded"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = [
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_IDENTITY,
    RequestStatus.AWAITING_CLARIFICATION,
    RequestStatus.IN_PROGRESS,
]


class IdentityMethod(models.TextChoices):
    ACCOUNT_LOGIN = "account_login", "Signed-in account"
    EMAIL_MATCH = "email_match", "Reply from the account's email address"
    KNOWLEDGE = "knowledge", "Account details only the holder knows"
    DOCUMENT_SEEN = "document_seen", "Document seen (not stored)"
    OTHER = "other", "Other"


class IdentityOutcome(models.TextChoices):
    PENDING = "pending", "Not yet verified"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Could not be verified"
    NOT_REQUIRED = "not_required", "Not required"


class Outcome(models.TextChoices):
    FULFILLED = "fulfilled", "Fulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"


class RefusalGround(models.TextChoices):
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded", "Manifestly unfounded (Art. 12(5))"
    EXCESSIVE = "excessive", "Excessive (Art. 12(5))"
    IDENTITY_NOT_VERIFIED = "identity_not_verified", "Identity could not be verified"
    LEGAL_OBLIGATION = "legal_obligation", "Data kept to meet a legal obligation (Art. 17(3)(b))"
    OTHER_EXEMPTION = "other_exemption", "Other exemption (stated in the reason)"


# Grounds where the controller carries the burden of proof: the evidence is required.
GROUNDS_NEEDING_EVIDENCE = [RefusalGround.MANIFESTLY_UNFOUNDED, RefusalGround.EXCESSIVE]


class RightsRequest(models.Model):
    """A data subject's request, logged by support or received through the API."""

    reference = models.CharField(max_length=20, unique=True, editable=False, help_text="e.g. DSR-2026-00042")
    requester_name = models.CharField(max_length=200)
    requester_email = models.EmailField(max_length=254)
    account_ref = models.CharField(
        max_length=100, blank=True, help_text="Platform account id or reference, when the requester has one."
    )
    subject_type = models.ForeignKey(
        SubjectType, null=True, blank=True, on_delete=models.PROTECT, related_name="rights_requests"
    )
    regime = models.ForeignKey(
        Regime,
        on_delete=models.PROTECT,
        related_name="rights_requests",
        help_text="The requester's primary regime. Every applicable regime governs the request.",
    )
    requester_country = CountryField(blank=True, help_text="Where the requester lives: brings in its laws.")
    requester_region = models.CharField(
        max_length=10, blank=True, help_text="US state or Canadian province code, e.g. CA, VA, QC."
    )
    applicable_regimes = models.ManyToManyField(
        Regime, through="RequestRegime", related_name="governed_requests", blank=True
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    received_at = models.DateTimeField()
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_rights_requests",
    )
    status = models.CharField(max_length=30, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)

    # Identity verification. No identity document is stored: the method and outcome are.
    identity_method = models.CharField(max_length=20, choices=IdentityMethod.choices, blank=True)
    identity_outcome = models.CharField(max_length=20, choices=IdentityOutcome.choices, default=IdentityOutcome.PENDING)
    identity_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    identity_note = models.CharField(max_length=255, blank=True)

    # The account reference's own verification, needed when the account's email is not the requester's:
    # fulfilment acts only on identifiers a verification covered. It covers ``account_identity_ref`` only,
    # so correcting the account reference afterwards needs a new verification.
    account_identity_ref = models.CharField(max_length=100, blank=True, editable=False)
    account_identity_method = models.CharField(max_length=20, choices=IdentityMethod.choices, blank=True)
    account_identity_outcome = models.CharField(
        max_length=20, choices=IdentityOutcome.choices, default=IdentityOutcome.PENDING
    )
    account_identity_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_identity_verified_at = models.DateTimeField(null=True, blank=True)
    account_identity_note = models.CharField(max_length=255, blank=True)

    # Computed from the ledger by requests_app.deadlines; never edited by hand.
    clock_started_on = models.DateField(null=True, blank=True, editable=False)
    paused_days = models.PositiveIntegerField(default=0, editable=False)
    paused_since = models.DateField(
        null=True, blank=True, editable=False, help_text="Set while a clarification pauses the clock."
    )
    is_extended = models.BooleanField(default=False, editable=False)
    due_date = models.DateField(null=True, blank=True, editable=False, db_index=True)
    acknowledge_by = models.DateField(null=True, blank=True, editable=False)
    target_date = models.DateField(null=True, blank=True, editable=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True, editable=False)
    closed_on_time = models.BooleanField(null=True, blank=True, editable=False)

    possible_duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="possible_duplicates",
        help_text="An open request by the same requester for one of the same rights, flagged on intake.",
    )
    api_client = models.ForeignKey(
        "ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="rights_requests"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [
            ("decide_request", "Can close, refuse, extend and verify identity on rights requests"),
        ]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="rr_received_idx"),
            models.Index(fields=["status", "due_date"], name="rr_status_due_idx"),
            models.Index(fields=["requester_email", "status"], name="rr_requester_status_idx"),
            models.Index(fields=["closed_at"], name="rr_closed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=RequestStatus.CLOSED) | Q(closed_at__isnull=False),
                name="rr_closed_has_closed_at",
            ),
            models.CheckConstraint(
                condition=~Q(identity_outcome=IdentityOutcome.VERIFIED)
                | (Q(identity_verified_at__isnull=False) & ~Q(identity_method="")),
                name="rr_verified_has_method_and_time",
            ),
            models.CheckConstraint(
                condition=~Q(account_identity_outcome=IdentityOutcome.VERIFIED)
                | (
                    Q(account_identity_verified_at__isnull=False)
                    & ~Q(account_identity_method="")
                    & ~Q(account_identity_ref="")
                ),
                name="rr_account_verified_has_method_time_and_ref",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | ~Q(outcome=""),
                name="rr_closed_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return self.reference or "(new request)"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def identity_confirmed(self) -> bool:
        """Verified, or no verification needed (e.g. CCPA opt-out lines, §7026)."""
        return self.identity_outcome in {IdentityOutcome.VERIFIED, IdentityOutcome.NOT_REQUIRED}


class RequestLine(models.Model):
    """One right asked for in a request, with its own status, outcome and deadline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="lines")
    right = models.ForeignKey(Right, on_delete=models.PROTECT, related_name="request_lines")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_reason = models.TextField(
        blank=True, help_text="Required for anything short of fulfilled (Art. 12(4)): what and why."
    )
    refusal_ground = models.CharField(max_length=30, choices=RefusalGround.choices, blank=True)
    evidence_note = models.TextField(
        blank=True, help_text="Required for 'manifestly unfounded' and 'excessive': the controller carries the proof."
    )
    due_date = models.DateField(null=True, blank=True, editable=False)
    regimes = models.ManyToManyField(
        Regime, related_name="granted_lines", blank=True, help_text="The applicable regimes that grant this right."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["request", "right__display_order"]
        constraints = [
            models.UniqueConstraint(fields=["request", "right"], name="request_line_one_per_right"),
            models.CheckConstraint(
                condition=Q(status="completed", completed_at__isnull=False) & ~Q(outcome="")
                | (~Q(status="completed") & Q(outcome="")),
                name="request_line_completed_has_outcome",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["", Outcome.FULFILLED]) | ~Q(outcome_reason=""),
                name="request_line_shortfall_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(refusal_ground__in=GROUNDS_NEEDING_EVIDENCE) | ~Q(evidence_note=""),
                name="request_line_ground_has_evidence",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request.reference}: {self.right.name}"


class RequestRegime(models.Model):
    """A regime that governs a request, and why (REGULATIONS §1a)."""

    class Basis(models.TextChoices):
        CONTROLLER = "controller", "The controller's own regime"
        PRIMARY = "primary", "Primary regime given at intake"
        RESIDENCE = "residence", "The requester's country or state"
        STAFF = "staff", "Added by staff"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="request_regimes")
    regime = models.ForeignKey(Regime, on_delete=models.PROTECT, related_name="request_regimes")
    basis = models.CharField(max_length=20, choices=Basis.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "regime"], name="request_regime_once")]

    def __str__(self) -> str:
        return f"{self.request}: {self.regime.code}"


class AppealStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    IN_PROGRESS = "in_progress", "In progress"
    DECIDED = "decided", "Decided"


OPEN_APPEAL_STATUSES = [AppealStatus.RECEIVED, AppealStatus.IN_PROGRESS]


class AppealOutcome(models.TextChoices):
    UPHELD = "upheld", "Refusal upheld"
    REVERSED = "reversed", "Refusal reversed"
    PARTLY_REVERSED = "partly_reversed", "Refusal partly reversed"


class Appeal(models.Model):
    """A requester's appeal of a refusal (REGULATIONS §1b: the US state laws that require one).

    Its dates (``due_date``, ``target_date``, ``is_extended``) come from the appeal
    period and extension of the regime rows in ``regimes`` and the appeal's events in
    the request's ledger (``requests_app.deadlines.compute_appeal_deadlines``); they
    are stored for lists and jobs, never typed in.
    """

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="appeals")
    lines = models.ManyToManyField(RequestLine, related_name="appeals", help_text="The refused lines appealed.")
    regimes = models.ManyToManyField(
        Regime, related_name="appeals", help_text="The governing regimes whose appeal rules apply."
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    received_at = models.DateTimeField()
    statement = models.TextField(blank=True, help_text="What the requester wrote: why they disagree.")
    status = models.CharField(max_length=20, choices=AppealStatus.choices, default=AppealStatus.RECEIVED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_appeals"
    )

    # Computed from the ledger by requests_app.deadlines; never edited by hand.
    due_date = models.DateField(null=True, blank=True, editable=False, db_index=True)
    target_date = models.DateField(null=True, blank=True, editable=False)
    is_extended = models.BooleanField(default=False, editable=False)

    outcome = models.CharField(max_length=20, choices=AppealOutcome.choices, blank=True, editable=False)
    outcome_reason = models.TextField(blank=True, editable=False, help_text="The reasons the requester is given.")
    reversed_lines = models.ManyToManyField(RequestLine, related_name="reversed_by_appeals", blank=True)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_on_time = models.BooleanField(null=True, blank=True, editable=False)

    api_client = models.ForeignKey(
        "ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="appeals"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "due_date"], name="appeal_status_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=AppealStatus.DECIDED)
                | (Q(decided_at__isnull=False) & ~Q(outcome="") & ~Q(outcome_reason="")),
                name="appeal_decided_has_outcome_and_reasons",
            ),
            models.CheckConstraint(
                condition=Q(status=AppealStatus.DECIDED) | Q(outcome=""),
                name="appeal_outcome_only_when_decided",
            ),
        ]

    def __str__(self) -> str:
        return f"Appeal on {self.request.reference}" if self.request_id else "(new appeal)"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_APPEAL_STATUSES


class EventType(models.TextChoices):
    RECEIVED = "received", "Received"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    IDENTITY_REQUESTED = "identity_requested", "Identity information requested"
    IDENTITY_RECEIVED = "identity_received", "Identity information received"
    FEE_PAID = "fee_paid", "Fee paid"
    CLARIFICATION_REQUESTED = "clarification_requested", "Clarification requested"
    CLARIFICATION_RECEIVED = "clarification_received", "Clarification received"
    EXTENSION_NOTIFIED = "extension_notified", "Extension notified"
    REGIME_ADDED = "regime_added", "Regime added"
    REGIME_DROPPED = "regime_dropped", "Regime dropped"
    LINE_COMPLETED = "line_completed", "Line completed"
    APPEAL_RECEIVED = "appeal_received", "Appeal received"
    APPEAL_EXTENSION_NOTIFIED = "appeal_extension_notified", "Appeal extension notified"
    APPEAL_DECIDED = "appeal_decided", "Appeal decided"
    LINE_REOPENED = "line_reopened", "Line reopened on appeal"
    FULFILLED = "fulfilled", "Fulfilled"
    RESPONDED = "responded", "Response sent"
    CLOSED = "closed", "Closed"


class RequestEvent(models.Model):
    """The ledger: what happened to a request and when. Append-only; deadlines derive from it."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=30, choices=EventType.choices)
    at = models.DateTimeField(help_text="When it happened (may be earlier than when it was recorded).")
    reason = models.TextField(blank=True)
    line = models.ForeignKey(RequestLine, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    regime = models.ForeignKey(
        Regime, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Regime added or dropped."
    )
    extended_to = models.DateField(
        null=True, blank=True, help_text="An extension to a date the controller sets (Swiss FADP): that date."
    )
    appeal = models.ForeignKey(
        "Appeal", null=True, blank=True, on_delete=models.CASCADE, related_name="events", help_text="Appeal events."
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_client = models.ForeignKey("ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["request", "type"], name="request_event_type_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(type=EventType.EXTENSION_NOTIFIED) | ~Q(reason=""),
                name="request_event_extension_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(type__in=[EventType.REGIME_ADDED, EventType.REGIME_DROPPED])
                | (Q(regime__isnull=False) & ~Q(reason="")),
                name="request_event_regime_change_has_regime_and_reason",
            ),
            models.CheckConstraint(
                condition=~Q(
                    type__in=[
                        EventType.APPEAL_RECEIVED,
                        EventType.APPEAL_EXTENSION_NOTIFIED,
                        EventType.APPEAL_DECIDED,
                        EventType.LINE_REOPENED,
                    ]
                )
                | Q(appeal__isnull=False),
                name="request_event_appeal_event_has_appeal",
            ),
            models.CheckConstraint(
                condition=~Q(type__in=[EventType.APPEAL_EXTENSION_NOTIFIED, EventType.APPEAL_DECIDED]) | ~Q(reason=""),
                name="request_event_appeal_step_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(type=EventType.LINE_REOPENED) | Q(line__isnull=False),
                name="request_event_reopened_has_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {date_format(timezone.localtime(self.at), 'DATETIME_FORMAT')}"


class LetterTemplate(models.TextChoices):
    """Letters and emails, each a pair of templates under templates/requests_app/letters/."""

    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    IDENTITY_REQUEST = "identity_request", "Identity information request"
    CLARIFICATION_REQUEST = "clarification_request", "Clarification request"
    EXTENSION_NOTICE = "extension_notice", "Extension notice"
    COMPLETION = "completion", "Completion"
    PARTIAL_OR_REFUSAL = "partial_or_refusal", "Partial fulfilment or refusal"
    APPEAL_RECEIVED = "appeal_received", "Appeal received"
    APPEAL_EXTENSION_NOTICE = "appeal_extension_notice", "Appeal extension notice"
    APPEAL_DECISION = "appeal_decision", "Appeal decision"


# Letters the appeal services send themselves, with the step they record.
APPEAL_LETTERS = [
    LetterTemplate.APPEAL_RECEIVED,
    LetterTemplate.APPEAL_EXTENSION_NOTICE,
    LetterTemplate.APPEAL_DECISION,
]


class Communication(models.Model):
    """A letter or email sent to the requester: the copy exactly as sent."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="communications")
    template = models.CharField(max_length=30, choices=LetterTemplate.choices)
    to_email = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    edited = models.BooleanField(default=False, help_text="Staff changed the rendered text before sending.")
    event = models.OneToOneField(
        RequestEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="communication"
    )
    appeal = models.ForeignKey(
        "Appeal", null=True, blank=True, on_delete=models.SET_NULL, related_name="communications"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="Delivery failed for good: the requester never received this letter."
    )
    failure_reason = models.CharField(max_length=255, blank=True, help_text="Why (error type, never content).")
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(failed_at__isnull=True),
                name="communication_delivered_or_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_template_display()} ({date_format(timezone.localdate(self.sent_at))})"


class RequestNote(models.Model):
    """An internal note on a request (not sent to the requester)."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.request.reference} ({date_format(timezone.localdate(self.created_at))})"


class ReferenceCounter(models.Model):
    """The last reference number handed out per year (DSR-<year>-<number>)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class ApiClient(models.Model):
    """An integration allowed to call the API. Only a hash of its token is stored."""

    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["last_used_at"], get_user=history_user)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    # DRF's IsAuthenticated reads this on request.user.
    is_authenticated = True


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an Idempotency-Key, so a retry creates nothing."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=100)
    body_hash = models.CharField(max_length=64)
    rights_request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="idempotency_records")
    status_code = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique_per_client"),
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.key}"


class NotificationKind(models.TextChoices):
    DIGEST = "digest", "Daily digest"
    ACK_MISSED = "ack_missed", "Acknowledgement date missed"
    DUE_MISSED = "due_missed", "Due date missed"
    IDENTITY_REMINDER = "identity_reminder", "Waiting on identity for 7 days"
    LETTER_FAILED = "letter_failed", "Letter could not be delivered"
    APPEAL_DUE_MISSED = "appeal_due_missed", "Appeal answer date missed"


class NotificationSent(models.Model):
    """A job's email, recorded so running the job again sends nothing twice.

    A digest is one per recipient per day (``request`` empty). An escalation or a
    reminder is one per recipient, request and ``on_date`` (the missed date, or
    the day identity information was asked for).
    """

    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(
        RightsRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    on_date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "recipient", "on_date"],
                condition=Q(request__isnull=True),
                name="notification_once_per_day",
            ),
            models.UniqueConstraint(
                fields=["kind", "recipient", "request", "on_date"],
                condition=Q(request__isnull=False),
                name="notification_once_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.on_date}"
