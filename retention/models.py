"""Retention schedules: rules per table, legal holds, and the runs that carry them out.

A rule says how long the rows of one mapped table are kept (policy §6,
REGULATIONS.md §3) and what happens after: delete, or anonymise with the data
map's column treatments. Beat starts each rule on its own cadence; a run counts
first, waits for a compliance officer's approval when it would touch more rows
than the rule allows, then sweeps in bounded batches through the system's
connector and records evidence (counts, checkpoints and a SHA-256 chained over
the affected primary keys). Legal holds exempt rows from every sweep and every
erasure.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from simple_history.models import HistoricalRecords

from compliance.models import DataCategory, LegalBasis, MappedColumn, MappedTable, Regime, SystemOfRecord

LEGAL_OBLIGATION_SLUG = "legal-obligation"
MAX_BATCH_SIZE = 100_000


class PeriodUnit(models.TextChoices):
    DAYS = "days", "days"
    MONTHS = "months", "months"
    YEARS = "years", "years"


class PeriodAnchor(models.TextChoices):
    """Where the retention period starts counting."""

    TRIGGER = "trigger", "the trigger date"
    FINANCIAL_YEAR_END = "financial_year_end", "the end of its financial year"
    CALENDAR_YEAR_END = "calendar_year_end", "the end of its calendar year"


class RetentionRule(models.Model):
    """How long the rows of one mapped table are kept, and what happens to them after.

    The trigger is a timestamp column of the table itself (``row_timestamp``:
    the row's creation or closure) or of a table on its join path to the subject
    (``subject_event``: e.g. the account's closure for the account's rows).
    Rows whose trigger is before the run's cutoff are swept.
    """

    class Trigger(models.TextChoices):
        ROW_TIMESTAMP = "row_timestamp", "A timestamp column of the row"
        SUBJECT_EVENT = "subject_event", "An event of the subject (through the data map)"

    class Action(models.TextChoices):
        DELETE = "delete", "Delete the rows"
        ANONYMISE = "anonymise", "Anonymise with the data map's column treatments"

    name = models.CharField(max_length=160, unique=True)
    data_category = models.ForeignKey(DataCategory, on_delete=models.PROTECT, related_name="retention_rules")
    table = models.ForeignKey(
        MappedTable,
        on_delete=models.PROTECT,
        related_name="retention_rules",
        help_text="The mapped table the rule sweeps (the back office's own tables are mapped too).",
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.ROW_TIMESTAMP)
    trigger_column = models.ForeignKey(
        MappedColumn,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A column marked as a timestamp in the data map: of this table, or of a table on its "
        "join path to the subject for a subject event.",
    )
    period = models.IntegerField(help_text="How long rows are kept after the trigger (a positive number).")
    period_unit = models.CharField(max_length=10, choices=PeriodUnit.choices, default=PeriodUnit.DAYS)
    period_anchor = models.CharField(
        max_length=20,
        choices=PeriodAnchor.choices,
        default=PeriodAnchor.TRIGGER,
        help_text="Count the period from the trigger date, or from the end of the financial or calendar year "
        "it falls in (tax records: 6 years after the financial year).",
    )
    action = models.CharField(max_length=20, choices=Action.choices, default=Action.DELETE)
    justification = models.TextField(help_text="Why the data is kept this long (shown in the retention matrix).")
    legal_basis = models.ForeignKey(LegalBasis, on_delete=models.PROTECT, related_name="retention_rules")
    legal_source = models.CharField(
        max_length=255,
        blank=True,
        help_text="The law that sets the period, e.g. 'VAT Notice 700/21'. Required for a legal obligation.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Alerted when a run fails. Without an owner, the privacy contact address is alerted.",
    )
    is_enabled = models.BooleanField(default=True, help_text="Disabled rules are not started by beat.")
    cadence = models.CharField(
        max_length=100,
        default="30 2 * * *",
        help_text="When beat starts the rule, as a crontab: minute hour day-of-month month day-of-week, "
        "in the controller's time zone.",
    )
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    batch_size = models.PositiveIntegerField(
        default=50_000,
        help_text="The most keys one batch may take (one short transaction each). Batches start at 1,000 keys and "
        "are sized to last about RETENTION_BATCH_TARGET_MS (60 ms by default) within this.",
    )
    approval_threshold = models.PositiveIntegerField(
        default=10_000,
        help_text="A run that would affect more rows than this waits for a compliance officer's approval.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["table__system__name", "table__table_name", "action"]
        constraints = [
            models.CheckConstraint(condition=Q(period__gt=0), name="retention_rule_period_positive"),
            models.CheckConstraint(
                condition=Q(batch_size__gte=1) & Q(batch_size__lte=MAX_BATCH_SIZE),
                name="retention_rule_batch_size_range",
            ),
            models.UniqueConstraint(
                fields=["table", "action"],
                name="retention_rule_one_per_table_action",
                violation_error_message="Another rule already applies this action to this table; "
                "overlapping rules would race. Change that rule instead.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def period_display(self) -> str:
        unit = self.get_period_unit_display()
        if self.period == 1:
            unit = unit.rstrip("s")
        text = f"{self.period} {unit}"
        if self.period_anchor != PeriodAnchor.TRIGGER:
            text += f" after {self.get_period_anchor_display()}"
        return text

    @property
    def is_legal_obligation(self) -> bool:
        return self.legal_basis_id is not None and self.legal_basis.slug == LEGAL_OBLIGATION_SLUG

    def bases_display(self) -> str:
        """The rule's basis, and the regimes whose records rest on another one."""
        text = self.legal_basis.name
        if self.legal_source and self.is_legal_obligation:
            text += f" ({self.legal_source})"
        others = [f"{b.regime.name}: {b.legal_basis.name.lower()}" for b in self.regime_bases.all()]
        if others:
            text += "; for requests under " + "; ".join(others)
        return text

    def exemption_reason(self) -> str:
        """How an erasure response names this rule when it keeps rows."""
        basis = self.legal_basis.name.lower()
        source = f": {self.legal_source}" if self.legal_source else ""
        return f"Retention rule '{self.name}' ({basis}{source})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.period is not None and self.period <= 0:
            errors["period"] = "The period must be a positive number of days, months or years."
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            errors["batch_size"] = f"The batch size must be between 1 and {MAX_BATCH_SIZE:,}."
        if self.cadence:
            from retention.scheduling import parse_cadence

            try:
                parse_cadence(self.cadence)
            except ValueError as exc:
                errors["cadence"] = str(exc)
        if self.legal_basis_id and self.is_legal_obligation and not self.legal_source.strip():
            errors["legal_source"] = "A legal obligation must cite its source, e.g. 'VAT Notice 700/21'."
        # Never a sweep of the back office's secret-holding tables (compliance.backoffice), whatever the map holds.
        swept = [self.table if self.table_id else None, self.trigger_column.table if self.trigger_column_id else None]
        for table in swept:
            problem = table.backoffice_problem() if table is not None else None
            if problem:
                errors["table"] = problem
                raise ValidationError(errors)
        if self.table_id and self.trigger_column_id:
            column = self.trigger_column
            if not column.is_timestamp:
                errors["trigger_column"] = (
                    f"Column '{column.name}' of {column.table} is not a timestamp in the data map; "
                    "only timestamp columns can trigger retention."
                )
            else:
                if self.trigger == self.Trigger.ROW_TIMESTAMP and column.table_id != self.table_id:
                    errors["trigger_column"] = (
                        f"Column '{column.name}' belongs to {column.table}, not to {self.table}; "
                        "a row timestamp must be a column of the swept table."
                    )
                elif self.trigger == self.Trigger.SUBJECT_EVENT and column.table_id not in {
                    t.pk for t in self.table.event_tables()
                }:
                    errors["trigger_column"] = (
                        f"{column.table} is not on the join path of {self.table} to the subject; "
                        "a subject event must be a timestamp of a parent table or of the subject's account."
                    )
        if self.table_id and self.data_category_id:
            categories = set(self.table.columns.exclude(data_category=None).values_list("data_category", flat=True))
            if categories and self.data_category_id not in categories:
                errors["data_category"] = f"{self.table} holds no column of the category '{self.data_category}'."
        if errors:
            raise ValidationError(errors)


class RetentionRuleRegimeBasis(models.Model):
    """The legal basis of a rule for the records of one regime, where it differs from the rule's own.

    Records of rights requests are kept 24 months under both: for a UK or EU request the controller's
    accountability (Art. 5(2), legitimate interests) is the basis; for a CCPA or Colorado request the law
    itself requires them (11 CCR §7101, Rule 6.11: a legal obligation). The rule's own basis applies to
    every regime without a row here.
    """

    rule = models.ForeignKey(RetentionRule, on_delete=models.CASCADE, related_name="regime_bases")
    regime = models.ForeignKey(Regime, on_delete=models.PROTECT, related_name="+")
    legal_basis = models.ForeignKey(LegalBasis, on_delete=models.PROTECT, related_name="+")
    legal_source = models.CharField(
        max_length=255, blank=True, help_text="The law that sets the period. Required for a legal obligation."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["rule", "regime__name"]
        verbose_name = "basis for a regime"
        verbose_name_plural = "bases by regime"
        constraints = [
            models.UniqueConstraint(fields=["rule", "regime"], name="retention_rule_regime_basis_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.regime}: {self.legal_basis}"

    def clean(self) -> None:
        if self.legal_basis_id and self.legal_basis.slug == LEGAL_OBLIGATION_SLUG and not self.legal_source.strip():
            raise ValidationError({"legal_source": "A legal obligation must cite its source."})


class LegalHold(models.Model):
    """Rows that must not be deleted or changed while a dispute or inquiry lasts.

    The scope is any combination of a subject (account or email), a data
    category, a system and a table; an empty part means "any". Held rows are
    skipped by every sweep and every erasure. A hold is active from ``starts_at``
    until ``ends_at`` (if set) or until it is released.
    """

    class Reason(models.TextChoices):
        LITIGATION = "litigation", "Litigation"
        DISPUTE = "dispute", "Dispute"
        REGULATOR_INQUIRY = "regulator_inquiry", "Regulator inquiry"

    name = models.CharField(max_length=160, unique=True, help_text="e.g. 'Litigation 2026-14'.")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    description = models.TextField(blank=True, help_text="Case reference and what the hold protects.")
    subject_account_ref = models.CharField(
        max_length=64, blank=True, help_text="The platform account id of the subject whose rows are held."
    )
    subject_email = models.EmailField(blank=True, help_text="The email address of the subject whose rows are held.")
    data_category = models.ForeignKey(
        DataCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    system = models.ForeignKey(SystemOfRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    table = models.ForeignKey(MappedTable, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField("from", default=timezone.now)
    ends_at = models.DateTimeField("until", null=True, blank=True, help_text="Leave empty for an open-ended hold.")
    released_at = models.DateTimeField(null=True, blank=True, editable=False)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="+"
    )
    release_reason = models.TextField(blank=True, editable=False)
    # A hold that reaches its 'until' date unreleased (lapsed) protects nothing from then: it counts as
    # released on that date. The retention rule on holds counts from this column, which the services keep.
    ended_at = models.DateTimeField(
        "ends (or ended)",
        null=True,
        blank=True,
        editable=False,
        help_text="When the hold stops protecting rows: its release, or its 'until' date if that comes first. "
        "Retention of the hold's own record counts from here; empty while it is open-ended and in force.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="legal_hold_until_after_from",
                violation_error_message="'Until' must be after 'from'.",
            ),
            models.CheckConstraint(
                condition=~Q(subject_account_ref="")
                | ~Q(subject_email="")
                | Q(data_category__isnull=False)
                | Q(system__isnull=False)
                | Q(table__isnull=False),
                name="legal_hold_has_scope",
                violation_error_message="Give the hold a scope: a subject, a data category, a system or a table.",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, released_by__isnull=True)
                | Q(released_at__isnull=False, released_by__isnull=False),
                name="legal_hold_release_recorded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "'Until' must be after 'from'."
        scoped = self.subject_account_ref or self.subject_email or self.data_category_id or self.system_id
        if not (scoped or self.table_id):
            errors["__all__"] = "Give the hold a scope: a subject, a data category, a system or a table."
        if self.table_id and self.system_id and self.table.system_id != self.system_id:
            errors["table"] = f"{self.table} is not a table of {self.system}."
        if errors:
            raise ValidationError(errors)

    def is_active(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.released_at is None and self.starts_at <= at and (self.ends_at is None or self.ends_at > at)

    def end_moment(self) -> datetime | None:
        """What ``ended_at`` must hold: the earlier of the release and the 'until' date (None if neither)."""
        moments = [moment for moment in (self.released_at, self.ends_at) if moment is not None]
        return min(moments) if moments else None

    def is_lapsed(self, at: datetime | None = None) -> bool:
        """Its 'until' date passed and nobody released it: it protects nothing and counts as released then."""
        at = at or timezone.now()
        return self.released_at is None and self.ends_at is not None and self.ends_at <= at

    @property
    def has_subject(self) -> bool:
        return bool(self.subject_account_ref or self.subject_email)

    @property
    def scope_display(self) -> str:
        parts = []
        if self.has_subject:
            parts.append("one subject")
        if self.data_category_id:
            parts.append(f"category {self.data_category}")
        if self.table_id:
            parts.append(f"table {self.table}")
        elif self.system_id:
            parts.append(f"system {self.system}")
        return ", ".join(parts)

    def exemption_reason(self) -> str:
        return f"Legal hold '{self.name}' ({self.get_reason_display().lower()})"


class RunStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_RUN_STATUSES = [RunStatus.AWAITING_APPROVAL, RunStatus.QUEUED, RunStatus.RUNNING]

EMPTY_EVIDENCE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of nothing


class RetentionRun(models.Model):
    """One run of a rule: the count, the approval when needed, then the sweep and its evidence.

    ``evidence_sha256`` chains the per-batch digests of the affected primary keys:
    it starts as the SHA-256 of nothing and, for each batch that affected rows,
    becomes ``sha256(previous_hex + batch_keys_sha256_hex)``. An auditor can
    recompute it from the batches listed with the run.
    """

    class Mode(models.TextChoices):
        DRY_RUN = "dry_run", "Dry run (count only)"
        EXECUTE = "execute", "Execute"

    class Origin(models.TextChoices):
        SCHEDULE = "schedule", "Beat schedule"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"

    rule = models.ForeignKey(RetentionRule, on_delete=models.PROTECT, related_name="runs")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.EXECUTE)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SCHEDULE)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cutoff = models.DateTimeField(help_text="Rows whose trigger is before this instant are swept.")
    timestamp_column = models.CharField(max_length=300, help_text="The trigger as the connector was given it.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    rows_matched = models.PositiveBigIntegerField(default=0, help_text="Rows older than the cutoff when counted.")
    rows_to_affect = models.PositiveBigIntegerField(
        default=0, help_text="Rows the count found outside every hold: what the run would affect."
    )
    rows_affected = models.PositiveBigIntegerField(default=0)
    rows_skipped_held = models.PositiveBigIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    checkpoint = models.CharField(max_length=200, null=True, blank=True, help_text="Last primary key swept.")
    evidence_sha256 = models.CharField(max_length=64, default=EMPTY_EVIDENCE)
    longest_batch_ms = models.FloatField(default=0)
    error = models.TextField(blank=True, help_text="Why the run failed (never personal data).")

    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    # Lease: the worker executing the run and when it last renewed its claim. A
    # conditional UPDATE in the database grants it, so two workers on any number
    # of machines never sweep the same run; a dead worker's lease goes stale.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["heartbeat_at", "worker"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("approve_retentionrun", "Can approve a retention run over its threshold"),
            ("cancel_retentionrun", "Can cancel a retention run"),
            ("start_retentionrun", "Can start a retention run by hand"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=Q(mode="execute", status__in=["awaiting_approval", "queued", "running"]),
                name="retention_run_one_active_per_rule",
                violation_error_message="This rule already has a run in progress.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice for choice, _ in RunStatus.choices]), name="retention_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="retention_run_status_hb")]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.rule}"

    @property
    def is_active(self) -> bool:
        return self.mode == self.Mode.EXECUTE and self.status in ACTIVE_RUN_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def progress_percent(self) -> int:
        """Share of the counted rows already swept or skipped (0-100)."""
        if self.status == RunStatus.SUCCEEDED:
            return 100
        if not self.rows_matched:
            return 0
        return min(100, int(100 * (self.rows_affected + self.rows_skipped_held) / self.rows_matched))


class RetentionRunBatch(models.Model):
    """One committed batch of a run: the evidence an auditor recomputes the chain from."""

    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="batch_records")
    number = models.PositiveIntegerField()
    checkpoint_from = models.CharField(max_length=200, null=True, blank=True)
    checkpoint_to = models.CharField(max_length=200, null=True, blank=True)
    matched = models.PositiveIntegerField()
    affected = models.PositiveIntegerField()
    skipped_held = models.PositiveIntegerField()
    keys_sha256 = models.CharField(max_length=64)
    evidence_sha256 = models.CharField(max_length=64, help_text="The run's chained evidence after this batch.")
    duration_ms = models.FloatField()
    platform_xid = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Transaction id of the batch in the system's PostgreSQL database: lets a resumed run tell "
        "whether a batch interrupted between the two commits was applied.",
    )
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="retention_batch_unique_number")]

    def __str__(self) -> str:
        return f"Batch {self.number} of run #{self.run_id}"


class RetentionRunHoldSkip(models.Model):
    """How many rows a run left alone because of one legal hold."""

    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="hold_skips")
    hold = models.ForeignKey(LegalHold, on_delete=models.PROTECT, related_name="run_skips")
    rows = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["run", "hold__name"]
        constraints = [models.UniqueConstraint(fields=["run", "hold"], name="retention_hold_skip_unique")]

    def __str__(self) -> str:
        return f"{self.rows} rows under {self.hold}"
