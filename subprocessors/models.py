"""The subprocessor register (policy §5, §8; GDPR Art. 28 and 44-49).

Who processes personal data for Studio, which data, where and under which
transfer safeguard; the contracts (DPAs) and security attestations behind them;
and the change notices customers receive before a change takes effect, with the
objections they raise. Writes go through ``subprocessors.services``; this module
holds the shape and the constraints only.

Relations that point from compliance's taxonomy and data map to the register
are declared here (``processing_activities`` → ``recipients``,
``systems_of_record`` → ``hosting_subprocessors``): compliance names no subprocessor.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import dateformat, timezone
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords


def long_date(value: date) -> str:
    """3 January 2027: how dates read in messages, notices and the feed."""
    return dateformat.format(value, "j F Y")


def short_date(value: date) -> str:
    return dateformat.format(value, "j M Y")


def private_storage():
    """DPA documents live in the private storage: never served from MEDIA_URL."""
    return storages["private"]


def new_subscriber_key() -> str:
    return secrets.token_hex(16)


def dpa_upload_to(instance: DataProcessingAgreement, filename: str) -> str:
    # The stored name carries no original file name (it may hold a person's name).
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"dpa/{instance.subprocessor_id or 'new'}/{uuid.uuid4().hex}.{extension}"


class AdequacyDecision(models.Model):
    """A country personal data may go to without an extra safeguard.

    The list is data (REGULATIONS.md §4) so staff correct it when a decision is
    adopted, renewed or lapses: a location whose safeguard is "adequacy" for a
    country no longer on the list shows up as a gap in the transfer report.
    """

    class Scope(models.TextChoices):
        DOMESTIC = "domestic", "UK or EEA (no restricted transfer)"
        ADEQUACY = "adequacy", "Adequacy decision"

    country = CountryField(unique=True)
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ADEQUACY)
    reference = models.CharField(max_length=255, blank=True, help_text="The decision or regulation.")
    valid_until = models.DateField(null=True, blank=True, help_text="Empty when open-ended.")
    notes = models.TextField(blank=True, help_text="Limits, e.g. Canada: commercial organisations (PIPEDA).")
    history = HistoricalRecords()

    class Meta:
        ordering = ["country"]

    def __str__(self) -> str:
        return f"{self.country.name} ({self.get_scope_display()})"

    def is_current(self, on: date | None = None) -> bool:
        return self.valid_until is None or self.valid_until >= (on or timezone.localdate())


class CustomerContract(models.Model):
    """A customer's data processing terms, as far as subprocessor changes are concerned.

    GDPR Art. 28(2) sets no notice period: each customer's contract does. The
    notice a change must give is the longest of the default
    (``SUBPROCESSOR_NOTICE_DAYS``) and every active contract's period.
    """

    name = models.CharField(max_length=200, unique=True, help_text="The customer (organisation) name.")
    reference = models.CharField(max_length=120, blank=True, help_text="DPA or contract reference.")
    notice_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Notice period the contract promises; empty means the default."
    )
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Subprocessor(models.Model):
    """A vendor that processes personal data on Studio's behalf."""

    class Category(models.TextChoices):
        IDENTITY = "identity", "Identity and authentication"
        PAYMENTS = "payments", "Payment processing"
        CLOUD = "cloud", "Cloud infrastructure"
        OBSERVABILITY = "observability", "Observability and logging"
        AI_INFERENCE = "ai_inference", "AI model routing and inference"
        EMAIL = "email", "Email delivery"
        SUPPORT = "support", "Support tooling"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ANNOUNCED = "announced", "Announced (notice period running)"
        ACTIVE = "active", "Active"
        OFFBOARDING = "offboarding", "Offboarding"
        RETIRED = "retired", "Retired"

    class RiskRating(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    # Statuses customers see on the public pages: the vendor is announced or
    # still processing (offboarding vendors process until their removal is effective).
    PUBLIC_STATUSES = (Status.ANNOUNCED, Status.ACTIVE, Status.OFFBOARDING)
    # Statuses in which the vendor receives personal data (Art. 19 recipients).
    PROCESSING_STATUSES = (Status.ACTIVE, Status.OFFBOARDING)

    legal_name = models.CharField(max_length=200, unique=True, help_text="Legal entity that signs the DPA.")
    trading_name = models.CharField(max_length=120, blank=True, help_text="Name customers know it by.")
    slug = models.SlugField(max_length=80, unique=True, help_text="Stable identifier in the public JSON.")
    website = models.URLField(blank=True)
    service_description = models.TextField(help_text="What it does for Studio (shown publicly).")
    category = models.CharField(max_length=20, choices=Category.choices)
    purposes = models.ManyToManyField("compliance.ProcessingPurpose", related_name="subprocessors", blank=True)
    data_categories = models.ManyToManyField("compliance.DataCategory", related_name="subprocessors", blank=True)
    subject_types = models.ManyToManyField("compliance.SubjectType", related_name="subprocessors", blank=True)
    processing_activities = models.ManyToManyField(
        "compliance.ProcessingActivity",
        related_name="recipients",
        blank=True,
        help_text="Entries of the record of processing (Art. 30) this vendor is a recipient in.",
    )
    systems_of_record = models.ManyToManyField(
        "compliance.SystemOfRecord",
        related_name="hosting_subprocessors",
        blank=True,
        help_text="Systems of record this vendor hosts or runs.",
    )
    risk_rating = models.CharField(max_length=20, choices=RiskRating.choices, default=RiskRating.MEDIUM)
    internal_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_subprocessors",
        help_text="Receives the DPA review and attestation expiry reminders.",
    )
    privacy_contact_email = models.EmailField(help_text="Where erasure and rectification notices go (Art. 19).")
    erasure_webhook_url = models.URLField(blank=True, help_text="Optional endpoint for automated Art. 19 notices.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED, editable=False)
    active_since = models.DateField(null=True, blank=True, editable=False)
    retired_on = models.DateField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True, help_text="Internal only.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(
        m2m_fields=[purposes, data_categories, subject_types, processing_activities, systems_of_record]
    )

    class Meta:
        ordering = ["trading_name", "legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "announced", "active", "offboarding", "retired"]),
                name="subprocessor_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(active_since__isnull=True) | ~Q(status__in=["proposed", "announced"]),
                name="subprocessor_active_since_only_once_active",
            ),
            models.CheckConstraint(
                condition=Q(retired_on__isnull=True) | Q(status="retired"),
                name="subprocessor_retired_on_only_when_retired",
            ),
        ]

    def __str__(self) -> str:
        return self.trading_name or self.legal_name

    @property
    def is_public(self) -> bool:
        return self.status in self.PUBLIC_STATUSES


class ProcessingLocation(models.Model):
    """A country where a subprocessor processes data, and the transfer safeguard for it.

    One row per (country, safeguard): a US location may rely on EU SCCs for EU
    data and the UK Addendum for UK data. A location added to a public subprocessor
    is *pending* until its change notice takes effect.
    """

    class Mechanism(models.TextChoices):
        NONE_REQUIRED = "none_required", "None required (UK/EEA)"
        ADEQUACY = "adequacy", "Adequacy decision"
        EU_SCC = "eu_scc", "EU SCCs (2021/914)"
        UK_IDTA = "uk_idta", "UK IDTA"
        UK_ADDENDUM = "uk_addendum", "UK Addendum to the EU SCCs"
        EU_US_DPF = "eu_us_dpf", "EU-US Data Privacy Framework certification"
        UK_DPF_EXTENSION = "uk_dpf_extension", "UK Extension to the DPF (UK-US data bridge)"
        BCR = "bcr", "Binding Corporate Rules (Art. 47)"
        ART49_DEROGATION = "art49_derogation", "Art. 49 derogation (occasional transfers only)"

    class SccModule(models.TextChoices):
        C2C = "1", "Module 1: controller to controller"
        C2P = "2", "Module 2: controller to processor"
        P2P = "3", "Module 3: processor to processor"
        P2C = "4", "Module 4: processor to controller"

    # Mechanisms that rely on the destination itself rather than on a safeguard.
    COUNTRY_MECHANISMS = (Mechanism.NONE_REQUIRED, Mechanism.ADEQUACY)
    # Mechanisms that only make sense for a transfer to the United States.
    US_MECHANISMS = (Mechanism.EU_US_DPF, Mechanism.UK_DPF_EXTENSION)

    subprocessor = models.ForeignKey(Subprocessor, on_delete=models.CASCADE, related_name="locations")
    country = CountryField()
    mechanism = models.CharField(max_length=30, choices=Mechanism.choices)
    scc_module = models.CharField(
        max_length=1, choices=SccModule.choices, blank=True, help_text="For EU SCCs and the UK Addendum."
    )
    mechanism_reference = models.CharField(
        max_length=255, blank=True, help_text="Where the safeguard is documented, e.g. DPA annex, DPF listing."
    )
    description = models.CharField(max_length=255, blank=True, help_text="What happens there, e.g. 'hosting'.")
    is_pending = models.BooleanField(
        default=False, editable=False, help_text="Announced but not yet in use: waits for its change notice."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["subprocessor", "country", "mechanism"]
        constraints = [
            models.UniqueConstraint(
                fields=["subprocessor", "country", "mechanism"],
                name="processing_location_unique_mechanism",
                violation_error_message="This subprocessor already has this country with this safeguard.",
            ),
            models.CheckConstraint(
                condition=~Q(mechanism="eu_scc") | ~Q(scc_module=""),
                name="processing_location_scc_has_module",
                violation_error_message="Say which module of the EU SCCs applies.",
            ),
            models.CheckConstraint(
                condition=Q(mechanism__in=["eu_scc", "uk_addendum"]) | Q(scc_module=""),
                name="processing_location_module_only_for_scc",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country.name}: {self.get_mechanism_display()}"

    def mechanism_problem(self, decision: AdequacyDecision | None, on: date | None = None) -> str:
        """Why this location's safeguard does not cover a transfer to its country ("" if it does).

        ``decision`` is the country's row of the adequacy list, if any.
        """
        if not self.country:
            return ""
        current = decision is not None and decision.is_current(on)
        name = self.country.name
        if self.mechanism == self.Mechanism.NONE_REQUIRED and not (
            current and decision.scope == AdequacyDecision.Scope.DOMESTIC
        ):
            return f"{name} is outside the UK and EEA: a transfer there needs a safeguard."
        if self.mechanism == self.Mechanism.ADEQUACY and not current:
            return (
                f"{name} has no current adequacy decision on record: choose a transfer safeguard "
                "(SCCs, IDTA, UK Addendum, DPF certification, BCRs)."
            )
        if self.mechanism in self.US_MECHANISMS and self.country.code != "US":
            return "Data Privacy Framework certification only covers transfers to the United States."
        if self.mechanism == self.Mechanism.EU_SCC and not self.scc_module:
            return "Say which module of the EU SCCs applies."
        return ""

    def clean(self) -> None:
        if self.scc_module and self.mechanism not in (self.Mechanism.EU_SCC, self.Mechanism.UK_ADDENDUM):
            raise ValidationError({"scc_module": "A module only applies to the EU SCCs or the UK Addendum."})
        decision = AdequacyDecision.objects.filter(country=self.country).first() if self.country else None
        problem = self.mechanism_problem(decision)
        if problem:
            raise ValidationError({"mechanism": problem})


class DataProcessingAgreement(models.Model):
    """A signed DPA (Art. 28(3)/(4)) with its review date and the signed document."""

    subprocessor = models.ForeignKey(Subprocessor, on_delete=models.CASCADE, related_name="dpas")
    version = models.CharField(max_length=60)
    signed_on = models.DateField()
    review_on = models.DateField(help_text="When the agreement must be reviewed; owners are reminded before.")
    document = models.FileField(
        upload_to=dpa_upload_to,
        storage=private_storage,
        blank=True,
        max_length=255,
        validators=[FileExtensionValidator(["pdf"])],
        help_text="The signed PDF. Stored privately; downloaded through the admin only.",
    )
    includes_sccs = models.BooleanField(default=False, help_text="The DPA incorporates the EU SCCs / UK Addendum.")
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["subprocessor", "-signed_on"]
        verbose_name = "data processing agreement"
        constraints = [
            models.UniqueConstraint(fields=["subprocessor", "version"], name="dpa_unique_version"),
            models.CheckConstraint(
                condition=Q(review_on__gt=F("signed_on")),
                name="dpa_review_after_signature",
                violation_error_message="The review date must come after the signature date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subprocessor} DPA {self.version}"

    def clean(self) -> None:
        if self.signed_on and self.review_on and self.review_on <= self.signed_on:
            raise ValidationError({"review_on": "The review date must come after the signature date."})


class SecurityAttestation(models.Model):
    """A certification or audit report of a subprocessor, valid until it expires."""

    class Kind(models.TextChoices):
        SOC2_TYPE2 = "soc2_type2", "SOC 2 Type II"
        SOC2_TYPE1 = "soc2_type1", "SOC 2 Type I"
        ISO27001 = "iso27001", "ISO/IEC 27001"
        ISO27017 = "iso27017", "ISO/IEC 27017"
        ISO27018 = "iso27018", "ISO/IEC 27018"
        ISO27701 = "iso27701", "ISO/IEC 27701"
        ISO42001 = "iso42001", "ISO/IEC 42001"
        PCI_DSS = "pci_dss", "PCI DSS"
        CSA_STAR = "csa_star", "CSA STAR"
        CYBER_ESSENTIALS = "cyber_essentials", "Cyber Essentials Plus"
        OTHER = "other", "Other"

    subprocessor = models.ForeignKey(Subprocessor, on_delete=models.CASCADE, related_name="attestations")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    issued_on = models.DateField()
    expires_on = models.DateField()
    issuer = models.CharField(max_length=200, blank=True, help_text="Auditor or certification body.")
    reference = models.CharField(max_length=255, blank=True, help_text="Report or certificate reference.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["subprocessor", "kind", "-expires_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("issued_on")),
                name="attestation_expires_after_issue",
                violation_error_message="The expiry date must come after the issue date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subprocessor}: {self.get_kind_display()} until {short_date(self.expires_on)}"

    def clean(self) -> None:
        if self.issued_on and self.expires_on and self.expires_on <= self.issued_on:
            raise ValidationError({"expires_on": "The expiry date must come after the issue date."})


class SubprocessorChange(models.Model):
    """A change announced to customers before it takes effect (GDPR Art. 28(2)).

    Announced with an effective date at least the notice period away; becomes
    effective on that date if no objection is left unresolved, or is withdrawn.
    """

    class Kind(models.TextChoices):
        ADDITION = "addition", "New subprocessor"
        REMOVAL = "removal", "Subprocessor removed"
        NEW_LOCATION = "new_location", "New processing location"
        NEW_PURPOSE = "new_purpose", "New purpose"
        NEW_DATA_CATEGORY = "new_data_category", "New data category"

    class Status(models.TextChoices):
        ANNOUNCED = "announced", "Announced"
        EFFECTIVE = "effective", "Effective"
        WITHDRAWN = "withdrawn", "Withdrawn"

    subprocessor = models.ForeignKey(Subprocessor, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    summary = models.TextField(help_text="What changes, in words customers understand (public).")
    location = models.ForeignKey(
        ProcessingLocation, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    purpose = models.ForeignKey(
        "compliance.ProcessingPurpose", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data_category = models.ForeignKey(
        "compliance.DataCategory", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ANNOUNCED, editable=False)
    announced_at = models.DateTimeField(default=timezone.now, editable=False)
    announced_on = models.DateField(editable=False, help_text="Announcement date in the controller's time zone.")
    announced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    notice_days = models.PositiveSmallIntegerField(editable=False, help_text="Notice owed when announced.")
    effective_on = models.DateField()
    effective_at = models.DateTimeField(null=True, blank=True, editable=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True, editable=False)
    withdrawal_reason = models.TextField(blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-announced_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_on__gte=F("announced_on")), name="change_effective_after_notice"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["announced", "effective", "withdrawn"]), name="change_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind="new_location", location__isnull=False) | (~Q(kind="new_location") & Q(location=None)),
                name="change_location_iff_new_location",
                violation_error_message="A new-location change names the location; other kinds name none.",
            ),
            models.CheckConstraint(
                condition=Q(kind="new_purpose", purpose__isnull=False) | (~Q(kind="new_purpose") & Q(purpose=None)),
                name="change_purpose_iff_new_purpose",
                violation_error_message="A new-purpose change names the purpose; other kinds name none.",
            ),
            models.CheckConstraint(
                condition=Q(kind="new_data_category", data_category__isnull=False)
                | (~Q(kind="new_data_category") & Q(data_category=None)),
                name="change_category_iff_new_category",
                violation_error_message="A new-data-category change names the category; other kinds name none.",
            ),
            models.CheckConstraint(
                condition=Q(effective_at__isnull=True) | Q(status="effective"),
                name="change_effective_at_when_effective",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(status="withdrawn"),
                name="change_withdrawn_at_when_withdrawn",
            ),
            # One running addition or removal per subprocessor, one running change per location.
            models.UniqueConstraint(
                fields=["subprocessor", "kind"],
                condition=Q(status="announced", kind__in=["addition", "removal"]),
                name="change_one_running_lifecycle_change",
            ),
            models.UniqueConstraint(
                fields=["location"], condition=Q(status="announced"), name="change_one_running_per_location"
            ),
            models.UniqueConstraint(
                fields=["subprocessor", "purpose"],
                condition=Q(status="announced", kind="new_purpose"),
                name="change_one_running_per_purpose",
            ),
            models.UniqueConstraint(
                fields=["subprocessor", "data_category"],
                condition=Q(status="announced", kind="new_data_category"),
                name="change_one_running_per_category",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subprocessor} (effective {short_date(self.effective_on)})"

    @property
    def target_label(self) -> str:
        """What the change adds, in words (empty for additions and removals)."""
        if self.location_id:
            return self.location.country.name
        if self.purpose_id:
            return self.purpose.name
        if self.data_category_id:
            return self.data_category.name
        return ""


class ChangeObjection(models.Model):
    """A customer's objection to an announced change. An open objection holds the change back."""

    class Outcome(models.TextChoices):
        WITHDRAWN_BY_CUSTOMER = "withdrawn_by_customer", "Customer withdrew the objection"
        ACCOMMODATED = "accommodated", "Accommodated (alternative arrangement agreed)"
        CONTRACT_TERMINATED = "contract_terminated", "Customer terminated the affected service"
        CHANGE_WITHDRAWN = "change_withdrawn", "Change withdrawn"

    change = models.ForeignKey(SubprocessorChange, on_delete=models.PROTECT, related_name="objections")
    customer = models.ForeignKey(CustomerContract, on_delete=models.PROTECT, related_name="objections")
    received_on = models.DateField()
    grounds = models.TextField(help_text="The customer's reasons, as received.")
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True, editable=False)
    resolution = models.TextField(blank=True, editable=False, help_text="How it was resolved.")
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["change", "received_on"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(outcome="") & Q(resolved_at__isnull=True))
                | (~Q(outcome="") & Q(resolved_at__isnull=False)),
                name="objection_outcome_iff_resolved",
            ),
            models.UniqueConstraint(
                fields=["change", "customer"],
                condition=Q(outcome=""),
                name="objection_one_open_per_customer",
                violation_error_message="This customer already has an open objection to this change.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} on {self.change}"

    @property
    def is_open(self) -> bool:
        return not self.outcome


class NoticeSubscriber(models.Model):
    """Someone who asked for subprocessor change notices by email (double opt-in).

    ``key`` is a random value the signed links carry instead of the address, so
    no personal data travels in a URL; changing it voids earlier links.
    """

    email = models.EmailField(unique=True, help_text="Stored lower-cased.")
    key = models.CharField(max_length=32, default=new_subscriber_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmation_sent_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the latest confirmation email was queued."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # History keeps when and by whom, not the address: a purged subscription leaves no email behind.
    history = HistoricalRecords(excluded_fields=["key", "email"])

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="subscriber_email_lower"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class ChangeNoticeDelivery(models.Model):
    """That a change notice went to a subscriber: at most one per (change, subscriber)."""

    change = models.ForeignKey(SubprocessorChange, on_delete=models.PROTECT, related_name="deliveries")
    subscriber = models.ForeignKey(NoticeSubscriber, on_delete=models.CASCADE, related_name="deliveries")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, help_text="Error class only, never message content.")
    # A withdrawn change is announced as withdrawn to those who were told of it (sent_at set), once each.
    withdrawal_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the subscriber was told that the change was withdrawn."
    )
    withdrawal_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "change notice deliveries"
        constraints = [
            models.UniqueConstraint(fields=["change", "subscriber"], name="delivery_once_per_change_subscriber"),
        ]

    def __str__(self) -> str:
        return f"Notice of change {self.change_id} to subscriber {self.subscriber_id}"


class ExpiryReminder(models.Model):
    """A reminder sent to an owner ahead of a DPA review or an attestation expiry.

    Unique per item, due date and threshold, so a rerun sends nothing twice and a
    moved due date (renewal) starts a fresh set of reminders.
    """

    class Kind(models.TextChoices):
        DPA_REVIEW = "dpa_review", "DPA review"
        ATTESTATION_EXPIRY = "attestation_expiry", "Attestation expiry"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    dpa = models.ForeignKey(
        DataProcessingAgreement, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    attestation = models.ForeignKey(
        SecurityAttestation, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    due_on = models.DateField()
    threshold_days = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-due_on", "threshold_days"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="dpa_review") & Q(dpa__isnull=False) & Q(attestation__isnull=True))
                | (Q(kind="attestation_expiry") & Q(attestation__isnull=False) & Q(dpa__isnull=True)),
                name="reminder_target_matches_kind",
            ),
            models.UniqueConstraint(fields=["dpa", "due_on", "threshold_days"], name="reminder_once_per_dpa"),
            models.UniqueConstraint(
                fields=["attestation", "due_on", "threshold_days"], name="reminder_once_per_attestation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_on}: {self.threshold_days}-day reminder"


class RegisterDigest(models.Model):
    """The weekly digest of what is due, once per ISO week."""

    week_start = models.DateField(unique=True, help_text="Monday of the week the digest covers.")
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveSmallIntegerField(default=0)
    item_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"Digest for the week of {self.week_start}"
