"""What the fulfilment workers did for a rights request, and the evidence they leave.

For a verified request the workers locate the subject in every system of record
(``LocatedTable``), build a plan per line (``FulfilmentPlan``: which tables are
exported, erased, masked or kept and why), and carry it out in steps
(``FulfilmentStep``), each one idempotent task keyed by request, line or bundle,
system and table. An access or portability request gets an ``ExportBundle``
delivered through signed, expiring ``DownloadLink``s; every download attempt is a
``DownloadAttempt``. An erasure, rectification or restriction notifies every
subprocessor receiving an affected data category (``RecipientNotice``, Art. 19),
and an erasure leaves keyed hashes of the subject's identifiers in the
``ErasureLedgerEntry`` so it can be replayed after a database restore.

This app sits above ``requests_app`` (and ``retention``, ``subprocessors``,
``compliance``); nothing imports it.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from simple_history.models import HistoricalRecords

from compliance.models import DataCategory, MappedTable, SystemOfRecord
from requests_app.models import RequestLine, RightsRequest
from subprocessors.models import Subprocessor


def new_public_id() -> str:
    """An unguessable identifier for links (never a database id, never personal data)."""
    return secrets.token_urlsafe(18)


class LocatedTable(models.Model):
    """How many rows of the request's subject one mapped table holds, as the locate step found."""

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="located_tables")
    system = models.ForeignKey(SystemOfRecord, on_delete=models.PROTECT, related_name="+")
    table = models.ForeignKey(MappedTable, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveBigIntegerField()
    located_at = models.DateTimeField()

    class Meta:
        ordering = ["request", "system__name", "table__table_name"]
        constraints = [models.UniqueConstraint(fields=["request", "table"], name="located_table_once_per_request")]

    def __str__(self) -> str:
        return f"{self.table}: {self.rows} rows"


class PlanKind(models.TextChoices):
    EXPORT = "export", "Export bundle (access, portability)"
    ERASURE = "erasure", "Erasure"
    RESTRICTION = "restriction", "Restriction of processing"
    RECTIFICATION = "rectification", "Rectification"


class TableAction(models.TextChoices):
    EXPORT = "export", "Export"
    DELETE = "delete", "Delete rows"
    MASK = "mask", "Mask per the data map"
    KEEP = "keep", "Keep"
    RESTRICT = "restrict", "Restrict"
    RECTIFY = "rectify", "Rectify"


class FulfilmentPlan(models.Model):
    """What the workers will do for one line of a request, stored with the request.

    ``tables`` is the plan as built from the locate counts and the data map: a
    list of ``{"system_id", "system", "table_id", "table", "rows", "action",
    "reason"}``; a kept table's ``reason`` names the retention rule, legal hold
    or map treatment that keeps it. An erasure plan changes nothing until a
    compliance officer approves it, unless ``ERASURE_APPROVAL_WAIVER`` waives
    approval for the request's regime and the plan is small
    (``approval_waiver`` then says so).
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved, running"
        COMPLETED = "completed", "Completed"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="fulfilment_plans")
    line = models.OneToOneField(RequestLine, on_delete=models.CASCADE, related_name="fulfilment_plan")
    kind = models.CharField(max_length=20, choices=PlanKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices)
    tables = models.JSONField(default=list, help_text="Per table: system, table, rows located, action, reason.")
    rows_affected = models.PositiveBigIntegerField(default=0, help_text="Rows the plan deletes or masks.")
    requested_change = models.TextField(
        blank=True, help_text="Rectification: the change the requester asked for, passed to each system's task."
    )
    approval_waiver = models.CharField(
        max_length=255, blank=True, help_text="Why no approval was needed (the setting and the plan's size)."
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["request", "kind"]
        permissions = [("approve_fulfilmentplan", "Can approve erasure plans")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="awaiting_approval") | Q(approved_at__isnull=False) | ~Q(approval_waiver=""),
                name="fulfilment_plan_running_was_approved",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="fulfilment_plan_completed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request.reference}: {self.get_kind_display()}"

    def kept_tables(self) -> list[dict]:
        return [entry for entry in self.tables if entry.get("action") == TableAction.KEEP]


class ExportBundle(models.Model):
    """The ZIP of a subject's data for an access or portability request.

    Built by export steps (one per system and table) and assembled when they are
    all done; the file lives in the storage ``EXPORT_BUNDLE_STORAGE`` names and is
    purged after ``expires_at``. ``manifest`` holds row counts and SHA-256 per
    file (no personal data).
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        PURGED = "purged", "Purged"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="export_bundles")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BUILDING)
    file_name = models.CharField(max_length=255, blank=True, help_text="Name in the bundle storage.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the ZIP file.")
    manifest = models.JSONField(default=dict, blank=True)
    rows_total = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    assembly_queued_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the assembly job was queued (none while one is out)."
    )
    assembly_heartbeat_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The assembling worker's lease, renewed while it works."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["manifest", "assembly_queued_at", "assembly_heartbeat_at"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [("download_exportbundle", "Can download export bundles from the admin")]
        constraints = [
            models.UniqueConstraint(
                fields=["request"], condition=~Q(status="purged"), name="export_bundle_one_live_per_request"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready")
                | (Q(built_at__isnull=False) & Q(expires_at__isnull=False) & ~Q(sha256="")),
                name="export_bundle_ready_has_file",
            ),
            models.CheckConstraint(
                condition=~Q(status="purged") | Q(purged_at__isnull=False), name="export_bundle_purged_has_date"
            ),
        ]

    def __str__(self) -> str:
        return f"Bundle for {self.request.reference} ({self.get_status_display().lower()})"


class FulfilmentStep(models.Model):
    """One unit of work: locate in a system, export or erase one table, restrict or rectify in a system.

    ``key`` is unique per request: ``<kind>:<scope>:<system id>:<table id or 0>``
    where the scope is the line (erasure, restriction, rectification), the bundle
    (export) or nothing (locate). A worker re-running a step reads its status
    first, so a step done is never done again; a failed one keeps a PII-free
    error until someone retries or waives it (with a reason).
    """

    class Kind(models.TextChoices):
        LOCATE = "locate", "Locate"
        EXPORT = "export", "Export"
        ERASE = "erase", "Erase"
        RESTRICT = "restrict", "Restrict"
        RECTIFY = "rectify", "Rectify"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting on a person or remote system"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        WAIVED = "waived", "Waived"

    FINISHED = (Status.DONE, Status.WAIVED)

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="fulfilment_steps")
    plan = models.ForeignKey(FulfilmentPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="steps")
    bundle = models.ForeignKey(ExportBundle, null=True, blank=True, on_delete=models.CASCADE, related_name="steps")
    system = models.ForeignKey(SystemOfRecord, on_delete=models.PROTECT, related_name="+")
    table = models.ForeignKey(MappedTable, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=80, editable=False)
    position = models.PositiveIntegerField(default=0, help_text="Order within the system (child tables first).")
    action = models.CharField(max_length=20, choices=TableAction.choices, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why rows are kept (rule, hold or map).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    rows_located = models.PositiveBigIntegerField(null=True, blank=True, help_text="Before the step changed anything.")
    rows_exported = models.PositiveBigIntegerField(default=0)
    rows_deleted = models.PositiveBigIntegerField(default=0)
    rows_masked = models.PositiveBigIntegerField(default=0)
    rows_kept = models.PositiveBigIntegerField(default=0)
    evidence = models.JSONField(default=dict, blank=True, help_text="Sizes and digests of exported parts.")
    external_reference = models.CharField(max_length=100, blank=True, help_text="Manual task or webhook job.")
    error = models.CharField(max_length=500, blank=True, help_text="What went wrong (never personal data).")
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when the step's job is queued, cleared when a worker starts it: a step is queued once while its
    # job is outstanding (a mark older than FULFILMENT_LEASE_SECONDS counts as a lost job).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The running worker's lease, renewed while it works; lapsed (older than FULFILMENT_LEASE_SECONDS) means
    # the worker is gone and beat's stall job queues the step again.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    waived_reason = models.CharField(max_length=500, blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["evidence", "queued_at", "heartbeat_at"])

    class Meta:
        ordering = ["request", "kind", "system__name", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "key"], name="fulfilment_step_once_per_key"),
            models.CheckConstraint(
                condition=~Q(status="waived") | ~Q(waived_reason=""), name="fulfilment_step_waiver_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="fulfilment_step_failure_has_error"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(finished_at__isnull=False), name="fulfilment_step_done_has_date"
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="fulfilment_step_status_idx")]

    def __str__(self) -> str:
        where = self.table.table_name if self.table_id else self.system.slug
        return f"{self.get_kind_display()} {where} ({self.get_status_display().lower()})"

    @staticmethod
    def make_key(kind: str, *, scope: int | str = 0, system_id: int, table_id: int | None = None) -> str:
        return f"{kind}:{scope}:{system_id}:{table_id or 0}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class DownloadLink(models.Model):
    """A signed, expiring link through which the requester downloads a bundle.

    The URL carries a signed token naming ``public_id``; opening it asks for the
    requester's email address (``method=email``) or a one-time code emailed on
    request (``method=code``), and allows ``max_downloads`` downloads until
    ``expires_at``. Too many wrong answers lock the link.
    """

    class Method(models.TextChoices):
        EMAIL = "email", "Requester confirms their email address"
        CODE = "code", "One-time code sent by email"

    bundle = models.ForeignKey(ExportBundle, on_delete=models.CASCADE, related_name="links")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.EMAIL)
    expires_at = models.DateTimeField()
    max_downloads = models.PositiveSmallIntegerField(default=3)
    downloads_used = models.PositiveSmallIntegerField(default=0, editable=False)
    failed_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    code_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Each time the requester asks for a code is numbered, and its job carries the number: a job delivered
    # twice (a worker lost before acknowledging it, the outbox sending again) finds its number answered and
    # sends nothing, so the person never gets a second, different code for one request.
    code_requests = models.PositiveIntegerField(default=0, editable=False)
    code_requests_answered = models.PositiveIntegerField(
        default=0, editable=False, help_text="The latest code request whose code was emailed."
    )
    locked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["code_hash"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(max_downloads__gt=0), name="download_link_allows_a_download"),
            models.CheckConstraint(
                condition=Q(downloads_used__lte=models.F("max_downloads")), name="download_link_within_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"Link {self.public_id[:6]}… for {self.bundle.request.reference}"


class DownloadAttempt(models.Model):
    """Every use of a download link (or a staff download from the admin), allowed or refused.

    ``client`` is a keyed hash of the client's address: enough to see that
    attempts came from one place, never the address itself.
    """

    class Outcome(models.TextChoices):
        DOWNLOADED = "downloaded", "Downloaded"
        STAFF_DOWNLOAD = "staff_download", "Downloaded by staff from the admin"
        CODE_SENT = "code_sent", "One-time code sent"
        WRONG_EMAIL = "wrong_email", "Refused: email address did not match"
        WRONG_CODE = "wrong_code", "Refused: wrong or expired code"
        EXPIRED = "expired", "Refused: link expired"
        EXHAUSTED = "exhausted", "Refused: download limit reached"
        REVOKED = "revoked", "Refused: link revoked"
        LOCKED = "locked", "Refused: link locked after wrong answers"
        UNAVAILABLE = "unavailable", "Refused: bundle not available"

    bundle = models.ForeignKey(ExportBundle, on_delete=models.CASCADE, related_name="download_attempts")
    link = models.ForeignKey(DownloadLink, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    at = models.DateTimeField()
    client = models.CharField(max_length=16, blank=True, help_text="Keyed hash of the client address (prefix).")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {date_format(timezone.localtime(self.at), 'DATETIME_FORMAT')}"


class RecipientNotice(models.Model):
    """An Art. 19 notice to a subprocessor receiving data the request erased, rectified or restricted.

    One per request and subprocessor, whatever the number of lines; sent by email
    to the privacy contact (or to the vendor's webhook) and tracked until the
    vendor confirms, with reminders in between.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email to the privacy contact"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent, awaiting confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Sending failed"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="recipient_notices")
    subprocessor = models.ForeignKey(Subprocessor, on_delete=models.PROTECT, related_name="art19_notices")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    actions = models.CharField(max_length=100, help_text="What was done: erasure, rectification, restriction.")
    categories = models.ManyToManyField(DataCategory, related_name="+")
    recipient = models.CharField(max_length=254, blank=True, help_text="Where it went (email or webhook URL).")
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True, help_text="The notice as sent.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True, help_text="Error type only, never content.")
    sent_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_via = models.CharField(max_length=20, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "Art. 19 notice"
        constraints = [
            models.UniqueConstraint(fields=["request", "subprocessor"], name="recipient_notice_once_per_vendor"),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False), name="recipient_notice_confirmed_at"
            ),
        ]

    def __str__(self) -> str:
        return f"Art. 19 notice to {self.subprocessor} for {self.request.reference}"


class ErasureLedgerEntry(models.Model):
    """Proof that a subject was erased from a system, without the subject's identifiers.

    ``account_hmac`` and ``email_hmac`` are HMAC-SHA256 under
    ``COMPLIANCE_HMAC_KEY`` of the account reference and the lower-cased email:
    after a database restore, ``manage.py replay_erasures`` finds the subjects
    whose identifiers hash to these values and applies ``plan`` again.
    Append-only; kept when the request itself is swept away by retention.
    """

    request = models.ForeignKey(
        RightsRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="erasure_ledger_entries"
    )
    request_reference = models.CharField(max_length=20)
    system = models.ForeignKey(SystemOfRecord, on_delete=models.PROTECT, related_name="+")
    account_hmac = models.CharField(max_length=64, blank=True, db_index=True)
    email_hmac = models.CharField(max_length=64, blank=True, db_index=True)
    plan = models.JSONField(default=list, help_text="Per table: id, name and action applied.")
    erased_at = models.DateTimeField()
    replays = models.PositiveIntegerField(default=0)
    last_replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = "erasure ledger entry"
        verbose_name_plural = "erasure ledger"
        constraints = [
            models.UniqueConstraint(fields=["request_reference", "system"], name="erasure_ledger_once_per_system"),
            models.CheckConstraint(
                condition=~Q(account_hmac="") | ~Q(email_hmac=""), name="erasure_ledger_has_an_identifier"
            ),
        ]

    def __str__(self) -> str:
        erased_on = date_format(timezone.localdate(self.erased_at))
        return f"{self.request_reference} erased from {self.system.slug} on {erased_on}"
