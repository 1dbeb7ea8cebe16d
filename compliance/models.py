"""Shared taxonomy and data map.

The taxonomy (data categories, purposes, legal bases, subject types, regimes
and the rights they grant) comes from the privacy policy and
``reference/REGULATIONS.md`` and is loaded by ``manage.py load_policy_baseline``.
It is data: compliance staff correct it in the admin without a release.

The data map (systems of record, their tables and columns) says where personal
data lives and how each column is treated on erasure. Nothing here imports
another app of ours: relations that point up (a subprocessor hosting a system,
a retention rule on a table) are declared by the upper app.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords


class TaxonomyEntry(models.Model):
    """Common shape of the policy's vocabularies: a stable slug, a name and a description."""

    slug = models.SlugField(max_length=64, unique=True, help_text="Stable identifier used by code and exports.")
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    policy_section = models.CharField(
        max_length=20, blank=True, help_text="Where the privacy policy states it, e.g. §2."
    )
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class DataCategory(TaxonomyEntry):
    """A category of personal data from policy §2."""

    examples = models.TextField(blank=True, help_text="Concrete examples, one per line.")
    history = HistoricalRecords()

    class Meta(TaxonomyEntry.Meta):
        verbose_name_plural = "data categories"


class ProcessingPurpose(TaxonomyEntry):
    """A purpose of processing from policy §3."""

    history = HistoricalRecords()


class LegalBasis(TaxonomyEntry):
    """A lawful basis for processing (GDPR Art. 6(1)), named in policy §4."""

    article = models.CharField(max_length=40, blank=True, help_text="e.g. Art. 6(1)(b)")
    history = HistoricalRecords()

    class Meta(TaxonomyEntry.Meta):
        verbose_name_plural = "legal bases"


class SubjectType(TaxonomyEntry):
    """A kind of data subject from policy §1."""

    history = HistoricalRecords()


class Right(TaxonomyEntry):
    """A data subject right (access, erasure, ...). Which regimes grant it is on the regime."""

    how_to_use = models.TextField(
        blank=True,
        help_text="How a person uses the right, in plain words (shown in access answers beside each right "
        "a regime grants).",
    )
    history = HistoricalRecords()


class PeriodUnit(models.TextChoices):
    CALENDAR_MONTHS = "calendar_months", "calendar months"
    CALENDAR_DAYS = "calendar_days", "calendar days"
    BUSINESS_DAYS = "business_days", "business days"


class Regime(models.Model):
    """A legal regime and its deadline rule, stored as data (REGULATIONS.md §1 and §2).

    The rights-request deadline engine reads these fields; it never hard-codes a
    regime. The response clock runs ``response_period`` ``response_unit`` from the
    clock start; a notified extension makes it ``response_period +
    extension_period`` from the same start. Where ``roll_to_working_day`` is set a
    due date on a weekend or holiday of the regime's calendar moves to the next
    working day.
    """

    code = models.SlugField(max_length=20, unique=True, help_text="API value, e.g. uk_gdpr.")
    name = models.CharField(max_length=120, unique=True)
    jurisdiction = models.CharField(max_length=120)
    source = models.CharField(max_length=255, help_text="The legal text the rule comes from.")

    response_period = models.PositiveSmallIntegerField()
    response_unit = models.CharField(max_length=20, choices=PeriodUnit.choices)
    extension_period = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty when the regime allows no extension."
    )
    extension_requires_reason = models.BooleanField(default=True)
    extension_notice_before_due = models.BooleanField(
        default=True, help_text="The extension must be notified before the current due date."
    )
    acknowledge_period = models.PositiveSmallIntegerField(null=True, blank=True)
    acknowledge_unit = models.CharField(max_length=20, choices=PeriodUnit.choices, blank=True)
    roll_to_working_day = models.BooleanField(
        default=False, help_text="Move a due date on a weekend or holiday to the next working day."
    )
    identity_starts_clock = models.BooleanField(
        default=False,
        help_text="The clock starts at the latest of receipt and identity information received.",
    )
    clarification_pauses_clock = models.BooleanField(
        default=False, help_text="A reasonably required clarification pauses the clock until answered."
    )
    fee_starts_clock = models.BooleanField(
        default=False, help_text="The clock starts no earlier than the day a fee asked for is paid."
    )
    clock_rules_from = models.DateField(
        null=True,
        blank=True,
        help_text="The identity, fee and pause rules apply only to requests received on or after this date; "
        "letters of earlier requests promise neither a pause nor a restart.",
    )
    extension_to_chosen_date = models.BooleanField(
        default=False,
        help_text="An extension runs to a date the officer sets and tells the requester (Swiss FADP), "
        "instead of a fixed extension period.",
    )
    internal_margin_days = models.PositiveSmallIntegerField(
        default=3, help_text="Internal target date: this many working days before the legal due date."
    )
    holiday_country = models.CharField(
        max_length=2, default="GB", help_text="ISO country code of the working-day calendar (holidays package)."
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, default="ENG", help_text="Subdivision of the calendar, e.g. ENG, CA, QC."
    )
    supervisory_authority = models.CharField(max_length=200, blank=True)
    supervisory_authority_url = models.URLField(blank=True)
    # How a requester complains, as the refusal letters give it (REGULATIONS §1, §5: Art. 12(4), P-39.1 s.34).
    complaint_note = models.CharField(
        max_length=255,
        blank=True,
        help_text="Added to the complaint route in letters, in plain words, e.g. which of several authorities "
        "(the EU/EEA country where the person lives or works).",
    )
    complaint_within_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The law gives the person this many days from our answer to apply to the authority (Quebec: "
        "30). Empty: no limit to state.",
    )
    courts_remedy = models.BooleanField(
        default=False,
        help_text="The law lets the person go to court over how their request was handled; only then do letters "
        "mention the courts (no private action under the US state laws).",
    )
    refusal_provisions = models.JSONField(
        default=dict,
        blank=True,
        help_text='The provision a refusal relies on, per refusal ground (e.g. {"identity_not_verified": '
        '"section 30 of the Act"}), named in refusal letters where the law requires it (Quebec s.34).',
    )
    verification_process = models.TextField(
        blank=True,
        help_text="How we verify a requester's identity, in plain words, for acknowledgements where the law asks "
        "for it (CCPA: 11 CCR §7021(a)).",
    )

    # Where the law applies (REGULATIONS §1a): by the requester's residence, when we meet its thresholds.
    applies_to_us = models.BooleanField(
        default=True,
        help_text="Studio meets this law's thresholds, so it governs requests from the people it covers. "
        "A fact about the business the compliance team sets.",
    )
    territory_countries = CountryField(
        multiple=True, blank=True, help_text="Countries whose residents this law covers."
    )
    territory_region = models.CharField(
        max_length=10,
        blank=True,
        help_text="When the law covers one subdivision only: its code (US state, Canadian province), e.g. CA, QC.",
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="The requester's time zone for the receipt date (the westernmost of the territory). "
        "Empty: the controller's zone only.",
    )

    # US state appeals (REGULATIONS §1b).
    appeal_period = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days to answer an appeal of a refusal. Empty: no appeal process in law."
    )
    appeal_extension_period = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Further days with notice and reasons. Empty: no extension."
    )
    record_retention_months = models.PositiveSmallIntegerField(
        default=24, help_text="How long records of handled requests are kept."
    )
    rights = models.ManyToManyField(Right, through="RegimeRight", related_name="regimes")
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(response_period__gt=0), name="regime_response_period_positive"),
            models.CheckConstraint(
                condition=Q(acknowledge_period__isnull=True) | ~Q(acknowledge_unit=""),
                name="regime_acknowledge_has_unit",
            ),
            models.CheckConstraint(
                condition=Q(territory_region="") | ~Q(territory_countries=""),
                name="regime_region_has_country",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def covers(self, country: str, region: str = "") -> bool:
        """Whether a requester living in ``country`` (and ``region``) is in this law's territory."""
        if not country or country not in {c.code for c in self.territory_countries}:
            return False
        return not self.territory_region or self.territory_region == (region or "").upper()

    def clean(self) -> None:
        if not isinstance(self.refusal_provisions, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in self.refusal_provisions.items()
        ):
            raise ValidationError(
                {"refusal_provisions": "Give an object of refusal ground to provision, both as text."}
            )
        if self.acknowledge_period and not self.acknowledge_unit:
            raise ValidationError({"acknowledge_unit": "Give the unit of the acknowledgement period."})
        if self.time_zone:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValidationError({"time_zone": f"Unknown time zone {self.time_zone!r}."}) from None
        if self.holiday_country:
            import holidays

            if self.holiday_country not in holidays.list_supported_countries():
                raise ValidationError({"holiday_country": f"No holiday calendar for {self.holiday_country!r}."})


class RegimeRight(models.Model):
    """A right a regime grants, with the exceptions to the regime's general clock.

    CCPA opt-out of sale/sharing, for instance, runs 15 business days and must not
    ask for identity verification (11 CCR §7026).
    """

    regime = models.ForeignKey(Regime, on_delete=models.CASCADE, related_name="regime_rights")
    right = models.ForeignKey(Right, on_delete=models.PROTECT, related_name="regime_rights")
    response_period = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Overrides the regime's period for this right."
    )
    response_unit = models.CharField(max_length=20, choices=PeriodUnit.choices, blank=True)
    identity_verification_allowed = models.BooleanField(default=True)
    clarification_pauses_clock = models.BooleanField(
        default=False,
        help_text="A clarification pauses this right's clock (UK Art. 12A: access only), where the regime pauses.",
    )
    notes = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["regime", "right__display_order"]
        constraints = [
            models.UniqueConstraint(fields=["regime", "right"], name="regime_right_unique"),
            models.CheckConstraint(
                condition=Q(response_period__isnull=True) | ~Q(response_unit=""),
                name="regime_right_override_has_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.regime.code}: {self.right.slug}"


class ProcessingActivity(models.Model):
    """An entry of the record of processing activities (GDPR Art. 30).

    Recipients come from the subprocessor register, which declares the relation
    on its side (``subprocessors.Subprocessor.processing_activities``).
    """

    class Role(models.TextChoices):
        CONTROLLER = "controller", "Controller"
        PROCESSOR = "processor", "Processor"

    name = models.CharField(max_length=160, unique=True)
    description = models.TextField(blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CONTROLLER)
    purpose = models.ForeignKey(ProcessingPurpose, on_delete=models.PROTECT, related_name="activities")
    legal_basis = models.ForeignKey(LegalBasis, on_delete=models.PROTECT, related_name="activities")
    data_categories = models.ManyToManyField(DataCategory, related_name="activities")
    subject_types = models.ManyToManyField(SubjectType, related_name="activities")
    retention_reference = models.CharField(
        max_length=255, blank=True, help_text="Retention period or the schedule entry that sets it."
    )
    transfers_note = models.TextField(blank=True, help_text="Transfers outside the UK/EEA and their safeguards.")
    security_measures = models.TextField(blank=True)
    automated_decisions = models.BooleanField(
        default=False,
        help_text="The activity makes decisions based solely on automated processing, including profiling, with "
        "legal or similarly significant effects on people (Art. 22, Art. 15(1)(h)).",
    )
    automated_decision_logic = models.TextField(
        blank=True,
        help_text="The logic involved and the significance and envisaged consequences, in plain words "
        "(required when the activity makes such decisions).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "processing activities"
        constraints = [
            models.CheckConstraint(
                condition=Q(automated_decisions=False) | ~Q(automated_decision_logic=""),
                name="processing_activity_automated_has_logic",
                violation_error_message="Explain the logic of the automated decisions in plain words.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.automated_decisions and not self.automated_decision_logic.strip():
            raise ValidationError(
                {"automated_decision_logic": "Explain the logic of the automated decisions in plain words."}
            )


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat job that beat schedules.

    It proves the whole loop (beat → broker → worker → database) is alive; the
    admin index shows it to compliance staff.
    """

    worker = models.CharField(max_length=200, unique=True)
    last_beat_at = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_beat_at"]

    def __str__(self) -> str:
        return self.worker


# ------------------------------------------------------------------------------
# Data map
# ------------------------------------------------------------------------------


class SystemOfRecord(models.Model):
    """A system holding personal data that the back office reaches through a connector."""

    class Kind(models.TextChoices):
        SQL = "sql", "SQL database (Django alias)"
        WEBHOOK = "webhook", "Webhook (signed HTTP)"
        MANUAL = "manual", "Manual (a task for a person)"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=120, help_text="Team or person accountable for the system.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    database_alias = models.CharField(
        max_length=64, blank=True, help_text="For SQL systems: a database alias from settings (never credentials)."
    )
    webhook_url = models.URLField(blank=True)
    webhook_secret_setting = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the webhook signing secret.",
    )
    manual_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For manual systems: who carries out the tasks.",
    )
    manual_instructions = models.TextField(blank=True)
    data_categories = models.ManyToManyField(DataCategory, blank=True, related_name="systems")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "systems of record"
        constraints = [
            models.CheckConstraint(condition=~Q(kind="sql") | ~Q(database_alias=""), name="sql_system_has_alias"),
            models.CheckConstraint(condition=~Q(kind="webhook") | ~Q(webhook_url=""), name="webhook_system_has_url"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == self.Kind.SQL:
            if not self.database_alias:
                raise ValidationError({"database_alias": "A SQL system needs a database alias."})
            if self.database_alias not in settings.DATABASES:
                raise ValidationError({"database_alias": f"No database alias {self.database_alias!r} in settings."})
            if self.pk:
                # Moving a system onto the back office's database must not carry secret-holding tables with it.
                from compliance.backoffice import backoffice_table_problem

                for table_name in self.tables.order_by("table_name").values_list("table_name", flat=True):
                    problem = backoffice_table_problem(self.database_alias, table_name)
                    if problem:
                        raise ValidationError({"database_alias": problem})
        if self.kind == self.Kind.WEBHOOK:
            if not self.webhook_url:
                raise ValidationError({"webhook_url": "A webhook system needs a URL."})
            if not self.webhook_secret_setting:
                raise ValidationError({"webhook_secret_setting": "Name the variable holding the secret."})
            if self.webhook_secret_setting not in getattr(settings, "WEBHOOK_SECRETS", {}):
                raise ValidationError(
                    {
                        "webhook_secret_setting": f"No webhook secret {self.webhook_secret_setting!r} in settings "
                        "(list the variable in WEBHOOK_SECRET_NAMES)."
                    }
                )


class DataSource(models.TextChoices):
    """Where personal data comes from (Art. 14, Art. 15(1)(g); CCPA categories of sources)."""

    PERSON = "person", "The person themselves"
    SERVICE_USE = "service_use", "Their use of the service"
    THIRD_PARTY = "third_party", "A third party"


class MappedTable(models.Model):
    """A table (or collection) of a system of record and how its rows belong to a subject.

    A row is the subject's either directly (``subject_column`` holds the account id
    or the email) or through its parent: ``parent`` names the mapped table one step
    closer to the subject and ``parent_column`` the column here that holds the
    parent's primary key (prompts → API requests → account).
    """

    class SubjectKey(models.TextChoices):
        ACCOUNT_ID = "account_id", "Account id"
        EMAIL = "email", "Email address"

    system = models.ForeignKey(SystemOfRecord, on_delete=models.CASCADE, related_name="tables")
    table_name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    primary_key = models.CharField(
        max_length=128,
        blank=True,
        default="id",
        help_text="A column identifying one row: the table's primary key or a column with a unique constraint. "
        "Empty for a table without one (a log): it is located, exported and erased by its subject, but cannot "
        "be swept nor be another table's parent.",
    )
    subject_column = models.CharField(max_length=128, blank=True)
    subject_key = models.CharField(max_length=20, choices=SubjectKey.choices, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    parent_column = models.CharField(max_length=128, blank=True)
    restriction_flag_column = models.CharField(
        max_length=128, blank=True, help_text="Boolean column set to restrict processing (Art. 18)."
    )
    restricted_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For a table without its own restriction flag: the table whose flag restricts this table's rows "
        "too (the subject's account, or a parent on the join path), e.g. invoices restricted by the account's "
        "processing_restricted.",
    )
    data_source = models.CharField(
        max_length=20,
        choices=DataSource.choices,
        blank=True,
        help_text="Where the table's personal data comes from (a column can say otherwise).",
    )
    data_source_party = models.CharField(
        max_length=200, blank=True, help_text="For a third party: who, e.g. 'Payment processor (Stripe)'."
    )
    account_email_column = models.CharField(
        max_length=128,
        blank=True,
        help_text="On the table whose subject column is the account id: the column holding the account's "
        "email, so a subject known by one key is found in tables keyed by the other.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["system__name", "table_name"]
        constraints = [
            models.UniqueConstraint(fields=["system", "table_name"], name="mapped_table_unique"),
            models.CheckConstraint(
                condition=(Q(subject_column="") | Q(parent__isnull=True)),
                name="mapped_table_one_subject_path",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(parent_column=""),
                name="mapped_table_parent_has_column",
            ),
            models.CheckConstraint(
                condition=Q(subject_column="") | ~Q(subject_key=""),
                name="mapped_table_subject_has_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system.slug}.{self.table_name}"

    def clean(self) -> None:
        if self.subject_column and self.parent_id:
            raise ValidationError("Identify the subject either by a column or through a parent table, not both.")
        if self.subject_column and not self.subject_key:
            raise ValidationError({"subject_key": "Say whether the subject column holds an account id or an email."})
        if self.parent_id and not self.parent_column:
            raise ValidationError({"parent_column": "Name the column holding the parent's primary key."})
        if self.parent_id and self.system_id and self.parent.system_id != self.system_id:
            raise ValidationError({"parent": "The parent table must be in the same system."})
        if self.parent_id and not self.parent.primary_key:
            raise ValidationError(
                {"parent": f"The parent table {self.parent.table_name!r} has no primary key to join on: name one."}
            )
        if self.parent_id and len(self.parent.key_columns()) > 1:
            raise ValidationError(
                {
                    "parent": f"The parent table {self.parent.table_name!r} has a key of several columns; a child "
                    "joins on one: name a unique column of the parent as its key, or link this table to the "
                    "subject by its own column."
                }
            )
        # The join path must reach a table that identifies the subject, without a cycle.
        seen = {self.pk} if self.pk else set()
        step = self.parent
        while step is not None:
            if step.pk in seen:
                raise ValidationError({"parent": "The join path loops back on itself."})
            seen.add(step.pk)
            if step.subject_column:
                break
            step = step.parent
        if self.parent_id and step is None:
            raise ValidationError({"parent": "The join path does not reach a table that identifies the subject."})
        if self.data_source == DataSource.THIRD_PARTY and not self.data_source_party.strip():
            raise ValidationError({"data_source_party": "Name the third party the data comes from."})
        if self.restricted_by_id:
            if self.restriction_flag_column:
                raise ValidationError({"restricted_by": "This table has its own restriction flag."})
            if not self.restricted_by.restriction_flag_column:
                raise ValidationError({"restricted_by": f"{self.restricted_by} names no restriction flag column."})
            if self.pk and self.restricted_by_id not in {t.pk for t in self.event_tables()}:
                raise ValidationError(
                    {"restricted_by": "The table must be on this table's join path to the subject, or its account."}
                )
        if self.account_email_column and self.subject_key != self.SubjectKey.ACCOUNT_ID:
            raise ValidationError(
                {"account_email_column": "Only a table identified by the account id can name the account's email."}
            )
        problem = self.backoffice_problem()
        if problem:
            raise ValidationError({"table_name": problem})
        self._check_schema()

    def backoffice_problem(self) -> str | None:
        """Why this table can never be in the data map (a secret-holding table of the back office's own
        database, see ``compliance.backoffice``), or None."""
        if not self.system_id or self.system.kind != SystemOfRecord.Kind.SQL:
            return None
        from compliance.backoffice import backoffice_table_problem

        return backoffice_table_problem(self.system.database_alias, self.table_name)

    def _check_schema(self) -> None:
        """Every name this entry gives must exist in the system's database (SQL systems)."""
        if not self.system_id or self.system.kind != SystemOfRecord.Kind.SQL:
            return
        from compliance.connectors.base import ConnectorError
        from compliance.connectors.introspection import schema_reader

        try:
            schema = schema_reader(self.system.database_alias)
            if not schema.has_table(self.table_name):
                raise ValidationError(
                    {
                        "table_name": f"Table {self.table_name!r} does not exist in database alias "
                        f"{self.system.database_alias!r}."
                    }
                )
            table = schema.table(self.table_name)
            if self.parent_id and self.parent.table_name and schema.has_table(self.parent.table_name):
                parent_columns = schema.table(self.parent.table_name).columns
                if self.parent.primary_key and self.parent.primary_key not in parent_columns:
                    raise ValidationError(
                        {"parent": f"The parent's primary key {self.parent.primary_key!r} does not exist."}
                    )
        except ConnectorError as exc:
            raise ValidationError(str(exc)) from None
        errors = self._check_key(table)
        for field_name in [
            "subject_column",
            "parent_column",
            "restriction_flag_column",
            "account_email_column",
        ]:
            column = getattr(self, field_name)
            if column and column not in table.columns:
                errors[field_name] = f"Column {column!r} does not exist in table {self.table_name!r}."
        flag = table.columns.get(self.restriction_flag_column)
        if flag is not None and not flag.is_boolean:
            errors["restriction_flag_column"] = f"Column {flag.name!r} is not a boolean column."
        if errors:
            raise ValidationError(errors)

    def key_columns(self) -> list[str]:
        """The columns of ``primary_key``: one, several (a composite key, written "a,b"), or none."""
        return [name.strip() for name in self.primary_key.split(",") if name.strip()]

    def _check_key(self, table) -> dict[str, str]:
        """``primary_key`` against the table's introspection (``table``: its ``TableInfo``): each column
        exists and together they identify a row; none given takes the table's own key."""
        if not self.primary_key.strip():
            self.primary_key = table.key_text  # "" for a table without one (a log): located by its subject
            return {}
        columns = self.key_columns()
        missing = [name for name in columns if name not in table.columns]
        if missing:
            return {"primary_key": f"Column {missing[0]!r} does not exist in table {self.table_name!r}."}
        if len(set(columns)) != len(columns):
            return {"primary_key": "A column is named twice in the key."}
        if table.is_view:
            return {}  # a view has no constraints to check against; it is never written through
        if not table.identifies_rows(columns):
            own = f" ({', '.join(table.primary_key_columns)})" if table.primary_key_columns else ""
            return {
                "primary_key": f"Column {self.primary_key!r} is neither the primary key of table {self.table_name!r} "
                f"nor under a unique constraint: it does not identify one row. Name the table's primary key{own} "
                "or a unique column, or leave it empty to take the table's own."
            }
        self.primary_key = ",".join(columns)
        return {}

    def source_display(self) -> str:
        """Where the table's data comes from, for people ("" when the map does not say)."""
        return data_source_display(self.data_source, self.data_source_party)

    def restriction_table(self) -> MappedTable | None:
        """The table whose flag restricts this table's rows: itself, the table it names, or None."""
        if self.restriction_flag_column:
            return self
        return self.restricted_by if self.restricted_by_id else None

    def join_path(self) -> list[MappedTable]:
        """This table, then each parent up to the one holding the subject column."""
        path: list[MappedTable] = [self]
        while path[-1].parent_id is not None:
            path.append(path[-1].parent)
        return path

    def account_table(self) -> MappedTable | None:
        """The system's table of accounts (identified by the account id, naming the account's email)."""
        return (
            MappedTable.objects.filter(system_id=self.system_id, subject_key=self.SubjectKey.ACCOUNT_ID)
            .exclude(account_email_column="")
            .first()
        )

    def event_tables(self) -> list[MappedTable]:
        """The tables whose timestamps are events of this table's subject, for retention triggers:
        each parent on the join path, and the subject's account (its closure, say), reached through
        the subject key even when the account table is not a parent (API keys keyed by account id)."""
        path = self.join_path()
        tables = path[1:]
        account = self.account_table() if path[-1].subject_column else None
        if account is not None and account.pk not in {t.pk for t in path}:
            tables.append(account)
        return tables


def data_source_display(source: str, party: str) -> str:
    if not source:
        return ""
    if source == DataSource.THIRD_PARTY:
        return party or DataSource.THIRD_PARTY.label
    label = DataSource(source).label
    return f"{label} ({party})" if party else label


class ReviewedTable(models.Model):
    """A table of a SQL system reviewed by a person and found to hold no personal data.

    ``datamap_audit`` fails on every table of an active SQL system that is neither mapped nor listed
    here, so a forgotten table is never silently left out of exports and erasures. (The back office's
    own secret-holding tables, which can never be mapped, count as reviewed by design.)
    """

    system = models.ForeignKey(SystemOfRecord, on_delete=models.CASCADE, related_name="reviewed_tables")
    table_name = models.CharField(max_length=128)
    reason = models.CharField(max_length=255, help_text="Why it holds no personal data (what it holds instead).")
    needs_review = models.BooleanField(
        default=False, help_text="Suggested by discovery and not yet confirmed by a person: confirm, then clear."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["system__name", "table_name"]
        verbose_name = "table reviewed as not personal"
        verbose_name_plural = "tables reviewed as not personal"
        constraints = [
            models.UniqueConstraint(fields=["system", "table_name"], name="reviewed_table_unique"),
            models.CheckConstraint(condition=~Q(reason=""), name="reviewed_table_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.system.slug}.{self.table_name} (not personal)"

    def clean(self) -> None:
        if not self.reason:
            raise ValidationError({"reason": "Say why the table holds no personal data."})
        if not self.system_id:
            return
        if self.system.kind != SystemOfRecord.Kind.SQL:
            raise ValidationError({"table_name": "Only SQL systems have tables to review."})
        if MappedTable.objects.filter(system_id=self.system_id, table_name=self.table_name).exists():
            raise ValidationError(
                {"table_name": f"Table {self.table_name!r} is in the data map: it cannot also be not personal."}
            )
        from compliance.backoffice import backoffice_table_problem
        from compliance.connectors.base import ConnectorError
        from compliance.connectors.introspection import schema_reader

        if backoffice_table_problem(self.system.database_alias, self.table_name):
            raise ValidationError(
                {
                    "table_name": f"Table {self.table_name!r} is one of the back office's own tables: it is never "
                    "mapped and needs no review."
                }
            )
        try:
            exists = schema_reader(self.system.database_alias).has_table(self.table_name)
        except ConnectorError as exc:
            raise ValidationError(str(exc)) from None
        if not exists:
            raise ValidationError(
                {
                    "table_name": f"Table {self.table_name!r} does not exist in database alias "
                    f"{self.system.database_alias!r}."
                }
            )


class ColumnTreatment(models.TextChoices):
    """What erasure (or anonymising retention) does to a column."""

    KEEP = "keep", "Keep"
    NULL = "null", "Set to null"
    FIXED = "fixed", "Replace with a fixed value"
    HASH = "hash", "Keyed hash (HMAC)"
    REDACT = "redact", "Redact"
    DELETE_ROW = "delete_row", "Delete the whole row"


class AccessWithheld(models.TextChoices):
    """Why a column is left out of access answers (export bundles); the label is what the requester reads.

    The person is entitled to their data, not to what would let someone attack the service or another
    account (a key's hash can be brute-forced offline), nor to our staff's identities and internal notes,
    nor to the back office's own bookkeeping. The column's data category is still listed in the answer.
    """

    SECURITY = "security", "security of the service"
    STAFF = "staff", "our staff's identities and internal notes"
    INTERNAL = "internal", "internal bookkeeping that says nothing about you"


class MappedColumn(models.Model):
    """A column of a mapped table, classified with a data category or as not personal."""

    table = models.ForeignKey(MappedTable, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=128)
    data_category = models.ForeignKey(
        DataCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="columns"
    )
    not_personal = models.BooleanField(default=False, help_text="Explicitly classified as not personal data.")
    treatment = models.CharField(max_length=20, choices=ColumnTreatment.choices, default=ColumnTreatment.KEEP)
    replacement = models.CharField(
        max_length=255, blank=True, help_text="The fixed value, for the 'fixed value' treatment."
    )
    is_timestamp = models.BooleanField(default=False, help_text="Available as a retention trigger.")
    data_source = models.CharField(
        max_length=20,
        choices=DataSource.choices,
        blank=True,
        help_text="Where this column's data comes from, "
        "when not where the table's comes from (an id from the identity provider, a charge id from the payment "
        "processor).",
    )
    data_source_party = models.CharField(max_length=200, blank=True, help_text="For a third party: who.")
    needs_review = models.BooleanField(
        default=False, help_text="Imported from the schema and not yet reviewed: classify it, then clear the flag."
    )
    access_withheld = models.CharField(
        "withheld from access answers",
        max_length=20,
        choices=AccessWithheld.choices,
        blank=True,
        help_text="Leave the column out of export bundles (CSV and JSON), for this reason; the bundle's index still "
        "lists the column and its category, marked 'withheld: <reason>'. Empty: the column is exported.",
    )
    notes = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["table", "name"]
        constraints = [
            models.UniqueConstraint(fields=["table", "name"], name="mapped_column_unique"),
            models.CheckConstraint(
                condition=Q(data_category__isnull=True) | Q(not_personal=False),
                name="mapped_column_category_or_not_personal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table}.{self.name}"

    @property
    def is_classified(self) -> bool:
        return self.not_personal or self.data_category_id is not None

    def source_display(self) -> str:
        """Where the column's data comes from: its own source, else its table's."""
        if self.data_source:
            return data_source_display(self.data_source, self.data_source_party)
        return self.table.source_display()

    def clean(self) -> None:
        if self.data_category_id and self.not_personal:
            raise ValidationError("A column is either in a data category or not personal, not both.")
        if self.treatment == ColumnTreatment.FIXED and not self.replacement:
            raise ValidationError({"replacement": "Give the fixed value that replaces the data."})
        if self.data_source == DataSource.THIRD_PARTY and not self.data_source_party.strip():
            raise ValidationError({"data_source_party": "Name the third party the data comes from."})
        problem = self.table.backoffice_problem() if self.table_id else None
        if problem:
            raise ValidationError(problem)
        self._check_schema()

    def _check_schema(self) -> None:
        """The column must exist, and its treatment and timestamp flag must suit its type (SQL systems)."""
        if not self.table_id or self.table.system.kind != SystemOfRecord.Kind.SQL:
            return
        from compliance.connectors.base import ConnectorError
        from compliance.connectors.introspection import schema_reader

        try:
            column = schema_reader(self.table.system.database_alias).column(self.table.table_name, self.name)
        except ConnectorError as exc:
            raise ValidationError({"name": str(exc)}) from None
        problem = column_treatment_problem(column, self.treatment, self.replacement)
        if problem:
            raise ValidationError({"treatment": problem})
        if self.is_timestamp and not column.is_timestamp:
            raise ValidationError({"is_timestamp": f"Column {self.name!r} is not a date or timestamp column."})


HASH_PREFIX = "hmac:"
HASH_LENGTH = len(HASH_PREFIX) + 64
REDACTED = "[redacted]"


def column_treatment_problem(column, treatment: str, replacement: str = "") -> str | None:
    """Why ``treatment`` cannot be applied to an introspected column, or None.

    Catches at save (and in ``datamap_audit``) what would otherwise fail in the
    middle of an erasure: nulling a NOT NULL column, or writing a hash or a
    marker into a column too short or not textual.
    """
    name = column.name
    if treatment == ColumnTreatment.NULL and not column.nullable:
        return f"Column {name!r} cannot be null: choose another treatment."
    if treatment in {ColumnTreatment.HASH, ColumnTreatment.REDACT}:
        needed = HASH_LENGTH if treatment == ColumnTreatment.HASH else len(REDACTED)
        if not column.is_text:
            return f"Column {name!r} is not a text column: it cannot hold a {treatment} value."
        if column.max_length is not None and column.max_length < needed:
            return f"Column {name!r} holds {column.max_length} characters; the {treatment} value needs {needed}."
    if treatment == ColumnTreatment.FIXED and getattr(column, "is_json", False):
        try:
            json.loads(replacement)
        except ValueError:
            return (
                f"Column {name!r} holds JSON: the replacement must be a JSON value, e.g. {{}}, null or "
                '"erased" (with the quotes).'
            )
    if (
        treatment == ColumnTreatment.FIXED
        and column.is_text
        and column.max_length is not None
        and len(replacement) > column.max_length
    ):
        return f"The replacement is longer than column {name!r} allows ({column.max_length})."
    return None


class ManualTask(models.Model):
    """Work a person does in a system the back office cannot reach (the ``manual`` connector).

    Opened by the manual connector for the system's assignee; the same operation
    for the same subject finds the same task again (``subject_digest``), so a
    retried job never opens a second one. The subject's identifiers are kept only
    while the task is open (the assignee needs them) and cleared when it closes.
    """

    class Operation(models.TextChoices):
        LOCATE = "locate", "Find the subject's data"
        EXPORT = "export", "Export the subject's data"
        ERASE = "erase", "Erase the subject's data"
        RESTRICT = "restrict", "Restrict processing"
        UNRESTRICT = "unrestrict", "Lift a restriction"
        SWEEP = "sweep", "Retention sweep"
        RECTIFY = "rectify", "Rectify data"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    system = models.ForeignKey(SystemOfRecord, on_delete=models.PROTECT, related_name="manual_tasks")
    operation = models.CharField(max_length=20, choices=Operation.choices)
    key = models.CharField(
        max_length=64, help_text="Keyed hash of the operation's subject and parameters: the same work, the same task."
    )
    title = models.CharField(max_length=200)
    instructions = models.TextField()
    subject_account_ref = models.CharField(max_length=64, blank=True)
    subject_email = models.CharField(max_length=254, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="manual_tasks"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(blank=True, help_text="What was done (no personal data).")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["status", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["system", "operation", "key"], name="manual_task_once_per_work"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(completed_at__isnull=False), name="manual_task_closed_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"Manual task {self.pk}: {self.title}"


class ManualTaskTable(models.Model):
    """The row count a person reports for one mapped table of a manual task."""

    task = models.ForeignKey(ManualTask, on_delete=models.CASCADE, related_name="tables")
    table = models.ForeignKey(MappedTable, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Rows found, exported or erased.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["table__table_name"]
        constraints = [models.UniqueConstraint(fields=["task", "table"], name="manual_task_table_unique")]

    def __str__(self) -> str:
        return f"{self.task_id}: {self.table.table_name}"


class MappingSuggestion(models.Model):
    """What discovery (``datamap_discover``) or the weekly drift check suggests for the data map.

    A suggestion is for a person: nothing reaches the map until someone accepts it, one at a time.
    ``evidence`` says why, in counts only ("412 of 412 sampled values look like email addresses"):
    the sampled values themselves are never stored or logged. Running discovery again refreshes the
    open suggestion of the same table or column instead of adding a second one.
    """

    class Kind(models.TextChoices):
        TABLE = "table", "Map the table"
        REVIEWED = "reviewed", "Mark the table not personal"
        COLUMN = "column", "Classify the column"
        DRIFT = "drift", "Column marked not personal now looks personal"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"

    system = models.ForeignKey(SystemOfRecord, on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    table_name = models.CharField(max_length=128)
    column_name = models.CharField(max_length=128, blank=True)
    # What to put in the map (tables: the key and the subject link; columns: the classification).
    primary_key = models.CharField(max_length=128, blank=True)
    subject_column = models.CharField(max_length=128, blank=True)
    subject_key = models.CharField(max_length=20, choices=MappedTable.SubjectKey.choices, blank=True)
    parent_table = models.CharField(max_length=128, blank=True)
    parent_column = models.CharField(max_length=128, blank=True)
    account_email_column = models.CharField(max_length=128, blank=True)
    data_category = models.ForeignKey(DataCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    not_personal = models.BooleanField(default=False)
    treatment = models.CharField(max_length=20, choices=ColumnTreatment.choices, blank=True)
    replacement = models.CharField(max_length=255, blank=True)
    is_timestamp = models.BooleanField(default=False)
    evidence = models.TextField(help_text="Why: counts of sampled values and what the name and type say.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["system__name", "table_name", "column_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "kind", "table_name", "column_name"],
                condition=Q(status="open"),
                name="mapping_suggestion_one_open",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(decided_at__isnull=False), name="mapping_suggestion_decided_has_date"
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.table_name}.{self.column_name}" if self.column_name else self.table_name
        return f"{self.system.slug}.{where}: {self.get_kind_display().lower()}"
