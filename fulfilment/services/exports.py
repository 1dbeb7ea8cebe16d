"""Export bundles: build by streaming, assemble, deliver through signed links, purge.

Building never holds a subject's data in memory: the connector streams each
table (PostgreSQL ``COPY``) into a ``PartWriter`` that compresses and hashes on
a helper thread into a temporary file, which is then moved into the bundle
storage. One worker exports one system at a time (``export_system_run``), and
marks each table's step done as soon as both its files are stored, so a
restarted worker skips the tables already done. ``bundle_assemble`` writes
``index.html``, the parts and ``manifest.json`` into the ZIP without
recompressing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from compliance.connectors import ConnectorPending, get_connector
from compliance.emails import email_message
from compliance.history import set_history_actor
from compliance.models import MappedColumn, MappedTable, ProcessingActivity
from fulfilment.bundle_format import PartInfo, PartWriter, ZipAssembler, read_first_lines
from fulfilment.locks import exclusive
from fulfilment.models import DownloadAttempt, DownloadLink, ExportBundle, FulfilmentPlan, FulfilmentStep, PlanKind
from fulfilment.services.common import (
    assembly_lease,
    bundle_storage,
    identifier_hmac,
    logger,
    safe_error,
    steps_lease,
    subject_for,
)
from fulfilment.services.plans import bundle_progress, plan_continue, plan_progress
from jobs.services import job_enqueue
from security.models import AccessEvent
from security.services import access_event_record

FORMATS = ("csv", "jsonl")
LINK_SALT = "fulfilment.download-link"
PREVIEW_ROWS = 5
PREVIEW_VALUE_CHARS = 300


class _TemporaryFile(File):  # type: ignore[type-arg]  # generic only in the stubs
    """A local file the file-system storage may move into place instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


class _Discard(io.RawIOBase):
    """Where a table already exported goes when a restarted export streams it again."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.out.write(data)


def _temp_dir() -> str | None:
    return settings.EXPORT_BUNDLE_TEMP_DIR or None


def _store(storage: Storage, name: str, path: str) -> str:
    """Move a finished temporary file into storage under ``name`` (replacing an earlier attempt's)."""
    if storage.exists(name):
        storage.delete(name)
    with open(path, "rb") as handle:
        return storage.save(name, _TemporaryFile(handle, name=os.path.basename(name)))


def part_name(bundle: ExportBundle, step: FulfilmentStep, fmt: str) -> str:
    return f"bundles/{bundle.public_id}/parts/{step.system.slug}/{step.table.table_name}.{fmt}.deflate"


class BundleSink:
    """The ``ExportSink`` of one system's export: a part per table and format, a step done per table."""

    formats = FORMATS

    def __init__(self, *, bundle: ExportBundle, steps: dict[int, FulfilmentStep]) -> None:
        self.bundle = bundle
        self.steps = steps
        self.storage = bundle_storage()
        self.parts: dict[int, dict[str, dict[str, Any]]] = {table_id: {} for table_id in steps}
        self.completed: set[int] = set()

    @contextmanager
    def open_stream(self, table: MappedTable, fmt: str) -> Iterator[BinaryIO]:
        step = self.steps.get(table.pk)
        if step is None or table.pk in self.completed:
            yield _Discard()
            return
        writer = PartWriter(
            level=settings.EXPORT_BUNDLE_COMPRESSION_LEVEL, directory=_temp_dir(), count_lines=fmt == "jsonl"
        )
        try:
            yield writer
            info = writer.finish()
            stored = _store(self.storage, part_name(self.bundle, step, fmt), writer.path)
            self.parts[table.pk][fmt] = {**info.as_dict(), "name": stored, "lines": writer.lines}
        finally:
            writer.discard()
        if set(self.parts[table.pk]) == set(self.formats):
            self._table_done(step)

    def _table_done(self, step: FulfilmentStep) -> None:
        parts = self.parts[step.table_id]
        FulfilmentStep.objects.filter(pk=step.pk).exclude(status__in=FulfilmentStep.FINISHED).update(
            status=FulfilmentStep.Status.DONE,
            rows_exported=parts["jsonl"]["lines"],
            evidence={"parts": parts},
            finished_at=timezone.now(),
            error="",
        )
        self.completed.add(step.table_id)


def export_system_run(*, bundle_id: int, system_id: int) -> None:
    """Export the subject's tables of one system into bundle parts; tables already done are skipped."""
    with exclusive(f"fulfilment-export-{bundle_id}-{system_id}") as mine:
        if not mine:
            return
        bundle = ExportBundle.objects.select_related("request").get(pk=bundle_id)
        if bundle.status != ExportBundle.Status.BUILDING:
            return
        todo = {
            step.table_id: step
            for step in bundle.steps.filter(system_id=system_id).select_related("system", "table")
            if not step.is_finished
        }
        if not todo:
            bundle_progress(bundle_id=bundle_id)
            return
        now = timezone.now()
        FulfilmentStep.objects.filter(pk__in=[s.pk for s in todo.values()]).update(
            status=FulfilmentStep.Status.RUNNING, attempts=F("attempts") + 1, error="", queued_at=None, heartbeat_at=now
        )
        FulfilmentStep.objects.filter(pk__in=[s.pk for s in todo.values()], started_at__isnull=True).update(
            started_at=now
        )
        system = next(iter(todo.values())).system
        sink = BundleSink(bundle=bundle, steps=todo)
        try:
            with steps_lease([s.pk for s in todo.values()]):
                counts = get_connector(system).export(subject_for(bundle.request), sink)
        except ConnectorPending as exc:
            for step in todo.values():
                if step.table_id not in sink.completed:
                    FulfilmentStep.objects.filter(pk=step.pk).update(
                        status=FulfilmentStep.Status.WAITING,
                        external_reference=exc.reference[:100],
                        error=str(exc)[:500],
                    )
            return
        except Exception as exc:  # this system fails; the other systems' exports go on
            logger.warning(
                "fulfilment export of system %s for bundle %s failed: %s", system_id, bundle_id, type(exc).__name__
            )
            FulfilmentStep.objects.filter(pk__in=[s.pk for s in todo.values()]).exclude(
                status__in=FulfilmentStep.FINISHED
            ).update(status=FulfilmentStep.Status.FAILED, error=safe_error(exc))
            return
        _reconcile(todo, sink, counts)
        bundle_progress(bundle_id=bundle_id)


def _reconcile(todo: dict[int, FulfilmentStep], sink: BundleSink, counts: Sequence[Any]) -> None:
    """Check the connector's row counts against what was written; record tables sent separately."""
    reported = {count.table_id: count.rows for count in counts}
    now = timezone.now()
    for table_id, step in todo.items():
        if table_id in sink.completed:
            written = sink.parts[table_id]["jsonl"]["lines"]
            if table_id in reported and reported[table_id] != written:
                FulfilmentStep.objects.filter(pk=step.pk).update(
                    status=FulfilmentStep.Status.FAILED,
                    error=f"{step.table.table_name}: the system reported {reported[table_id]} rows but "
                    f"{written} were written; retry the step.",
                )
        elif table_id in reported:
            # The system's own people or service delivered the data by another route (manual systems).
            FulfilmentStep.objects.filter(pk=step.pk).update(
                status=FulfilmentStep.Status.DONE,
                rows_exported=reported[table_id],
                evidence={"delivered_separately": True},
                finished_at=now,
                error="",
                external_reference="",
            )
        else:
            FulfilmentStep.objects.filter(pk=step.pk).update(
                status=FulfilmentStep.Status.FAILED,
                error=f"{step.table.table_name}: the system exported nothing for this table although rows were "
                "located; check its data map entry and retry.",
            )


# ------------------------------------------------------------------------------
# Assembly
# ------------------------------------------------------------------------------


def _preview(storage: Storage, part: dict[str, Any]) -> list[list[tuple[str, str]]]:
    rows = []
    with storage.open(part["name"], "rb") as source:
        for line in read_first_lines(source, max_lines=PREVIEW_ROWS):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            rows.append(
                [(str(key), "" if value is None else str(value)[:PREVIEW_VALUE_CHARS]) for key, value in record.items()]
            )
    return rows


def _register_context(tables: list[MappedTable]) -> dict[int, dict[str, Any]]:
    """Per table: its categories, and per category the purposes, bases, recipients and retention."""
    from retention.models import RetentionRule
    from subprocessors.selectors import recipients_for_categories

    context: dict[int, dict[str, Any]] = {}
    for table in tables:
        columns = list(table.columns.select_related("data_category").order_by("name"))
        categories = sorted({c.data_category for c in columns if c.data_category_id}, key=lambda c: c.display_order)
        category_ids = [c.pk for c in categories]
        activities = (
            ProcessingActivity.objects.filter(data_categories__in=category_ids)
            .select_related("purpose", "legal_basis")
            .distinct()
            .order_by("name")
        )
        rules = RetentionRule.objects.filter(table=table, is_enabled=True).select_related("legal_basis")
        context[table.pk] = {
            "columns": columns,
            "categories": categories,
            "activities": list(activities),
            "recipients": list(recipients_for_categories(category_ids=category_ids)) if category_ids else [],
            "rules": list(rules),
        }
    return context


def _index_context(
    bundle: ExportBundle, steps: list[FulfilmentStep], storage: Storage, now: datetime
) -> dict[str, Any]:
    register = _register_context([step.table for step in steps])
    entries = []
    for step in steps:
        parts = step.evidence.get("parts") or {}
        entries.append(
            {
                "step": step,
                "system": step.system,
                "table": step.table,
                "rows": step.rows_exported,
                "files": [f"{step.system.slug}/{step.table.table_name}.{fmt}" for fmt in FORMATS if fmt in parts],
                "delivered_separately": bool(step.evidence.get("delivered_separately")),
                "waived": step.status == FulfilmentStep.Status.WAIVED,
                "preview": _preview(storage, parts["jsonl"]) if "jsonl" in parts else [],
                **register[step.table_id],
            }
        )
    from fulfilment.selectors import access_answer

    return {
        "request": bundle.request,
        "bundle": bundle,
        "generated_at": now,
        "entries": entries,
        "controller": settings.CONTROLLER_NAME,
        "answer": access_answer(bundle.request, [step.table for step in steps]),
        "contact_email": settings.PRIVACY_CONTACT_EMAIL,
        "preview_rows": PREVIEW_ROWS,
        "withheld_any": any(column.access_withheld for entry in entries for column in entry["columns"]),
    }


def _withheld_columns(table_ids: list[int]) -> dict[int, list[dict[str, str]]]:
    """Per table, the columns the data map withholds from access answers and why (for the manifest)."""
    withheld: dict[int, list[dict[str, str]]] = {}
    columns = MappedColumn.objects.filter(table_id__in=table_ids).exclude(access_withheld="").order_by("name")
    for column in columns:
        withheld.setdefault(column.table_id, []).append(
            {"column": column.name, "reason": column.get_access_withheld_display()}
        )
    return withheld


def bundle_assemble(*, bundle_id: int) -> ExportBundle | None:
    """Write the ZIP (index.html, every part, manifest.json) once every export step is finished."""
    with exclusive(f"fulfilment-bundle-{bundle_id}") as mine:
        if not mine:
            return None
        bundle = ExportBundle.objects.select_related("request", "request__regime").get(pk=bundle_id)
        if bundle.status != ExportBundle.Status.BUILDING:
            return None
        steps = list(bundle.steps.select_related("system", "table").order_by("system__name", "position", "id"))
        if any(not step.is_finished for step in steps):
            return None
        with assembly_lease(bundle.pk):
            return _assemble(bundle, steps)


def _assemble(bundle: ExportBundle, steps: list[FulfilmentStep]) -> ExportBundle:
    storage = bundle_storage()
    now = timezone.now()
    exported = [step for step in steps if step.status == FulfilmentStep.Status.DONE]
    files, tables = [], []
    withheld = _withheld_columns([step.table_id for step in exported])
    handle_fd, path = tempfile.mkstemp(prefix="bundle-", suffix=".zip", dir=_temp_dir())
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            out = _HashingWriter(handle)
            assembler = ZipAssembler(out, moment=timezone.localtime(now).replace(tzinfo=None))
            html = render_to_string("fulfilment/bundle/index.html", _index_context(bundle, steps, storage, now)).encode(
                "utf-8"
            )
            info = assembler.add_bytes("index.html", html)
            files.append({"name": "index.html", "bytes": info.size, "sha256": info.sha256})
            for step in exported:
                parts = step.evidence.get("parts") or {}
                tables.append(
                    {
                        "system": step.system.slug,
                        "table": step.table.table_name,
                        "rows": step.rows_exported,
                        "delivered_separately": bool(step.evidence.get("delivered_separately")),
                        "withheld_columns": withheld.get(step.table_id, []),
                    }
                )
                for fmt in FORMATS:
                    if fmt not in parts:
                        continue
                    arcname = f"{step.system.slug}/{step.table.table_name}.{fmt}"
                    with storage.open(parts[fmt]["name"], "rb") as source:
                        assembler.add_part(arcname, PartInfo.from_dict(parts[fmt]), source)
                    files.append(
                        {
                            "name": arcname,
                            "rows": step.rows_exported,
                            "bytes": parts[fmt]["size"],
                            "sha256": parts[fmt]["sha256"],
                        }
                    )
            manifest = {
                "request": bundle.request.reference,
                "generated_at": now.isoformat(),
                "formats": {"csv": "UTF-8, header row first", "jsonl": "one JSON object per line"},
                "tables": tables,
                "files": files,
                "rows_total": sum(t["rows"] for t in tables),
            }
            assembler.add_bytes("manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
            size = assembler.close()
        stored = _store(storage, f"bundles/{bundle.public_id}/{bundle.request.reference}.zip", path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    with transaction.atomic():
        ExportBundle.objects.filter(pk=bundle.pk, status=ExportBundle.Status.BUILDING).update(
            status=ExportBundle.Status.READY,
            file_name=stored,
            size_bytes=size,
            sha256=out.sha256.hexdigest(),
            manifest=manifest,
            rows_total=manifest["rows_total"],
            built_at=now,
            expires_at=now + timedelta(days=settings.EXPORT_BUNDLE_DAYS),
        )
        plans = list(
            FulfilmentPlan.objects.filter(
                request=bundle.request, kind=PlanKind.EXPORT, status=FulfilmentPlan.Status.APPROVED
            ).values_list("pk", flat=True)
        )
        bundle.refresh_from_db()
        if bundle.links.count() == 0:
            download_link_create(bundle=bundle, actor=None)
        # The plan's bookkeeping commits with the bundle: a worker lost after this leaves nothing half done.
        for plan_id in plans:
            plan_progress(plan_id=plan_id)
        # An erasure of the same request waited for the bundle: it starts now, in the same transaction.
        erasures = FulfilmentPlan.objects.filter(
            request=bundle.request, kind=PlanKind.ERASURE, status=FulfilmentPlan.Status.APPROVED
        ).values_list("pk", flat=True)
        for plan_id in list(erasures):
            plan_continue(plan_id=plan_id)
    _delete_parts(storage, exported)
    logger.info("fulfilment bundle %s ready: %d files, %d bytes", bundle.pk, len(files), size)
    return bundle


def _delete_parts(storage: Storage, steps: list[FulfilmentStep]) -> None:
    for step in steps:
        for part in (step.evidence.get("parts") or {}).values():
            try:
                storage.delete(part["name"])
            except OSError:
                logger.warning("fulfilment: could not delete a part of step %s", step.pk)


# ------------------------------------------------------------------------------
# Links and downloads
# ------------------------------------------------------------------------------


class DownloadRefused(Exception):
    """A download link cannot be used: ``message`` is shown to the person, ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def link_token(link: DownloadLink) -> str:
    return signing.Signer(salt=LINK_SALT).sign(link.public_id)


def download_url(link: DownloadLink) -> str:
    return settings.SITE_URL + reverse("fulfilment:download", args=[link_token(link)])


def download_link_create(
    *,
    bundle: ExportBundle,
    actor: User | None,
    method: str = DownloadLink.Method.EMAIL,
    max_downloads: int | None = None,
    days: int | None = None,
    send_email: bool = True,
) -> tuple[DownloadLink, str]:
    """A new signed link to a ready bundle, emailed to the requester after commit. Returns it and its URL."""
    if actor is not None and not actor.has_perm("fulfilment.add_downloadlink"):
        raise PermissionDenied("You cannot create download links.")
    if bundle.status != ExportBundle.Status.READY:
        raise ValidationError("The bundle is not ready (or has been purged).")
    if method not in DownloadLink.Method.values:
        raise ValidationError({"method": "Choose how the requester proves it is them."})
    max_downloads = max_downloads or settings.EXPORT_LINK_MAX_DOWNLOADS
    if max_downloads < 1:
        raise ValidationError({"max_downloads": "Allow at least one download."})
    now = timezone.now()
    expires_at = min(now + timedelta(days=days or settings.EXPORT_LINK_DAYS), bundle.expires_at)
    link = DownloadLink(bundle=bundle, method=method, max_downloads=max_downloads, expires_at=expires_at)
    link.created_by = actor
    set_history_actor(link, actor)
    link.save()
    url = download_url(link)
    if send_email:
        link_id = link.pk
        transaction.on_commit(lambda: _email_link(link_id))
    return link, url


def _email_link(link_id: int) -> None:
    link = DownloadLink.objects.select_related("bundle__request").get(pk=link_id)
    request = link.bundle.request
    email_message(
        "fulfilment/emails/bundle_ready",
        {"request": request, "link": link, "url": download_url(link)},
        to=[request.requester_email],
        reply_to=[settings.PRIVACY_CONTACT_EMAIL],
    ).send()


def download_link_revoke(*, link: DownloadLink, actor: User | None) -> DownloadLink:
    if actor is not None and not actor.has_perm("fulfilment.change_downloadlink"):
        raise PermissionDenied("You cannot revoke download links.")
    with transaction.atomic():
        link = DownloadLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is None:
            link.revoked_at = timezone.now()
            set_history_actor(link, actor)
            link.save(update_fields=["revoked_at"])
    return link


def download_link_resolve(token: str) -> DownloadLink:
    """The link a token names; a tampered or unknown token is refused (and logged)."""
    try:
        public_id = signing.Signer(salt=LINK_SALT).unsign(token)
    except signing.BadSignature:
        logger.warning("fulfilment download refused: tampered or malformed token")
        raise DownloadRefused("This download link is not valid.", status=404) from None
    link = DownloadLink.objects.select_related("bundle__request").filter(public_id=public_id).first()
    if link is None:
        logger.warning("fulfilment download refused: unknown link")
        raise DownloadRefused("This download link is not valid.", status=404)
    return link


@dataclass(frozen=True)
class _Verdict:
    outcome: str
    message: str = ""
    status: int = 403


def _record(link: DownloadLink, outcome: str, client: str) -> None:
    DownloadAttempt.objects.create(
        bundle_id=link.bundle_id, link=link, outcome=outcome, at=timezone.now(), client=client
    )
    if outcome not in {DownloadAttempt.Outcome.DOWNLOADED, DownloadAttempt.Outcome.CODE_SENT}:
        logger.info("fulfilment download link %s refused: %s", link.pk, outcome)


def _state(link: DownloadLink, now: datetime) -> _Verdict | None:
    """Why the link cannot be used at all right now, or None."""
    if link.revoked_at is not None:
        return _Verdict(DownloadAttempt.Outcome.REVOKED, "This download link has been withdrawn.", 410)
    if link.locked_at is not None:
        return _Verdict(
            DownloadAttempt.Outcome.LOCKED,
            "This download link is locked after too many wrong answers. Contact us for a new one.",
            403,
        )
    if link.bundle.status != ExportBundle.Status.READY:
        return _Verdict(DownloadAttempt.Outcome.UNAVAILABLE, "This export is no longer available.", 410)
    if link.expires_at <= now:
        return _Verdict(
            DownloadAttempt.Outcome.EXPIRED, "This download link has expired. Contact us for a new one.", 410
        )
    if link.downloads_used >= link.max_downloads:
        return _Verdict(
            DownloadAttempt.Outcome.EXHAUSTED,
            "This download link has been used as many times as it allows. Contact us for a new one.",
            410,
        )
    return None


def download_link_check(*, link: DownloadLink, client: str = "") -> None:
    """Refuse (and record) a link that cannot be used, before asking the person anything."""
    verdict = _state(link, timezone.now())
    if verdict is not None:
        _record(link, verdict.outcome, client)
        raise DownloadRefused(verdict.message, status=verdict.status)


def _code_hash(link: DownloadLink, code: str) -> str:
    return identifier_hmac("download-code", f"{link.public_id}:{code}")


def download_code_send(*, link: DownloadLink, client: str = "") -> None:
    """A person asks for a one-time code (code links): checked here, emailed by a worker through the outbox.

    Nothing is spent here: the code is made, stored and counted against
    ``EXPORT_LINK_CODES_PER_HOUR`` by ``download_code_deliver`` when it is actually
    emailed, so a broker or mail server that is down costs a delay, never an attempt.
    The request is numbered (``code_requests``) and its job carries the number, so a
    job delivered twice sends one code.
    """
    verdict = None
    with transaction.atomic():
        link = DownloadLink.objects.select_for_update(of=("self",)).select_related("bundle__request").get(pk=link.pk)
        verdict = _code_verdict(link, timezone.now())
        if verdict is None:
            link.code_requests += 1
            link.save(update_fields=["code_requests"])
            job_enqueue("fulfilment.tasks.download_code_deliver_task", link.pk, link.code_requests)
        elif verdict.outcome:
            _record(link, verdict.outcome, client)
    if verdict is not None:
        raise DownloadRefused(verdict.message, status=verdict.status)


def _code_verdict(link: DownloadLink, now: datetime) -> _Verdict | None:
    verdict = _state(link, now)
    if verdict is None and link.method != DownloadLink.Method.CODE:
        verdict = _Verdict("", "This link does not use codes.", 400)
    if verdict is None:
        recent = link.attempts.filter(
            outcome=DownloadAttempt.Outcome.CODE_SENT, at__gte=now - timedelta(hours=1)
        ).count()
        if recent >= settings.EXPORT_LINK_CODES_PER_HOUR:
            verdict = _Verdict("", "A code was sent several times already; try again in an hour.", 429)
    return verdict


def download_code_deliver(*, link_id: int, request_number: int | None = None) -> bool:
    """Email a fresh one-time code (the worker's half of ``download_code_send``). False when not needed now.

    ``request_number`` is the number ``download_code_send`` gave the person's request:
    once its code was emailed, the same job delivered again (Celery redelivers a job
    whose worker was lost; the outbox may send a job twice) sends nothing, and the
    code already sent keeps working. (A job queued before requests were numbered has
    none and sends a code.)

    The email is sent last inside the transaction that stores the code's hash, the
    answered request number and the count: a mail server that refuses it rolls them
    all back (the task retries and sends the one code), so an attempt counts only when
    a code was actually sent. A link that expired, was revoked or reached its hourly
    limit meanwhile gets nothing.
    """
    with transaction.atomic():
        link = DownloadLink.objects.select_for_update(of=("self",)).select_related("bundle__request").filter(pk=link_id)
        link = link.first()
        if link is None:
            return False
        if request_number is not None and request_number <= link.code_requests_answered:
            logger.info("fulfilment download link %s: code request %s already answered", link.pk, request_number)
            return False
        now = timezone.now()
        if _code_verdict(link, now) is not None:
            return False
        code = f"{secrets.randbelow(10**8):08d}"
        link.code_hash = _code_hash(link, code)
        link.code_expires_at = now + timedelta(minutes=settings.EXPORT_LINK_CODE_MINUTES)
        fields = ["code_hash", "code_expires_at"]
        if request_number is not None:
            link.code_requests_answered = request_number
            fields.append("code_requests_answered")
        link.save(update_fields=fields)
        _record(link, DownloadAttempt.Outcome.CODE_SENT, "")
        request = link.bundle.request
        context = {"request": request, "code": code, "minutes": settings.EXPORT_LINK_CODE_MINUTES}
        email_message("fulfilment/emails/download_code", context, to=[request.requester_email]).send()
    return True


def download_authorise(*, link: DownloadLink, answer: str, client: str = "") -> ExportBundle:
    """Check the person's answer (email address or one-time code) and count one download.

    Wrong answers are recorded and, after ``EXPORT_LINK_MAX_FAILURES``, lock the
    link; nothing else changes. Returns the bundle to stream.
    """
    answer = (answer or "").strip()
    verdict = None
    with transaction.atomic():
        link = DownloadLink.objects.select_for_update(of=("self",)).select_related("bundle__request").get(pk=link.pk)
        now = timezone.now()
        verdict = _state(link, now)
        if verdict is None:
            if link.method == DownloadLink.Method.EMAIL:
                expected = link.bundle.request.requester_email.strip().lower()
                good = hmac.compare_digest(answer.lower().encode(), expected.encode())
                wrong = _Verdict(
                    DownloadAttempt.Outcome.WRONG_EMAIL,
                    "That is not the email address this request was made with.",
                    403,
                )
            else:
                fresh = link.code_hash and link.code_expires_at and link.code_expires_at > now
                good = bool(fresh) and hmac.compare_digest(_code_hash(link, answer), link.code_hash)
                wrong = _Verdict(DownloadAttempt.Outcome.WRONG_CODE, "That code is wrong or has expired.", 403)
            if good:
                link.downloads_used += 1
                link.code_hash, link.code_expires_at = "", None
                link.save(update_fields=["downloads_used", "code_hash", "code_expires_at"])
                _record(link, DownloadAttempt.Outcome.DOWNLOADED, client)
            else:
                verdict = wrong
                link.failed_attempts += 1
                fields = ["failed_attempts"]
                if link.failed_attempts >= settings.EXPORT_LINK_MAX_FAILURES:
                    link.locked_at = now
                    fields.append("locked_at")
                    verdict = _Verdict(
                        wrong.outcome,
                        f"{wrong.message} This download link is now locked after too many wrong answers. "
                        "Contact us for a new one.",
                        403,
                    )
                link.save(update_fields=fields)
        if verdict is not None:
            _record(link, verdict.outcome, client)
    if verdict is not None:
        raise DownloadRefused(verdict.message, status=verdict.status)
    return link.bundle


@transaction.atomic
def bundle_staff_download(
    *, bundle: ExportBundle, actor: User, http_request: HttpRequest | None = None
) -> ExportBundle:
    """Record a staff download from the admin (compliance officers only), in the bundle's log and the access audit."""
    if not actor.has_perm("fulfilment.download_exportbundle"):
        raise PermissionDenied("You cannot download export bundles.")
    if bundle.status != ExportBundle.Status.READY:
        raise ValidationError("The bundle is not ready (or has been purged).")
    DownloadAttempt.objects.create(
        bundle=bundle, outcome=DownloadAttempt.Outcome.STAFF_DOWNLOAD, at=timezone.now(), user=actor
    )
    access_event_record(actor=actor, action=AccessEvent.Action.DOWNLOADED_BUNDLE, obj=bundle, request=http_request)
    return bundle


# ------------------------------------------------------------------------------
# Purge
# ------------------------------------------------------------------------------


def bundle_purge(*, bundle: ExportBundle, actor: User | None = None) -> ExportBundle:
    """Delete a bundle's file (and any leftover parts); the record stays, marked purged.

    The files go first, then the record: a worker killed in between leaves a
    ready bundle without its file, which downloads refuse as unavailable and the
    next purge run marks purged (deleting a missing file is not an error).
    """
    if actor is not None and not actor.has_perm("fulfilment.change_exportbundle"):
        raise PermissionDenied("You cannot purge export bundles.")
    bundle = ExportBundle.objects.get(pk=bundle.pk)
    if bundle.status == ExportBundle.Status.PURGED:
        return bundle
    if bundle.status == ExportBundle.Status.BUILDING and actor is None:
        return bundle
    storage = bundle_storage()
    names = [bundle.file_name] if bundle.file_name else []
    for step in bundle.steps.all():
        names.extend(part["name"] for part in (step.evidence.get("parts") or {}).values())
    for name in names:
        _delete_quietly(storage, name)
    with transaction.atomic():
        bundle = ExportBundle.objects.select_for_update().get(pk=bundle.pk)
        if bundle.status != ExportBundle.Status.PURGED:
            bundle.status = ExportBundle.Status.PURGED
            bundle.purged_at = timezone.now()
            set_history_actor(bundle, actor)
            bundle.save(update_fields=["status", "purged_at"])
    logger.info("fulfilment bundle %s purged", bundle.pk)
    return bundle


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.warning("fulfilment: could not delete a bundle file")


def bundles_purge_expired(*, now: datetime | None = None) -> int:
    """Purge every ready bundle past its expiry (the beat job). Returns how many.

    Also removes what killed workers left in ``EXPORT_BUNDLE_TEMP_DIR`` (files of
    an unfinished part or ZIP older than a day); the system's temporary folder,
    used when the setting is empty, is left to the system.
    """
    now = now or timezone.now()
    count = 0
    for bundle in ExportBundle.objects.filter(status=ExportBundle.Status.READY, expires_at__lte=now):
        bundle_purge(bundle=bundle)
        count += 1
    _remove_leftovers(now)
    return count


def _remove_leftovers(now: datetime) -> None:
    folder = settings.EXPORT_BUNDLE_TEMP_DIR
    if not folder or not os.path.isdir(folder):
        return
    cutoff = now.timestamp() - 24 * 3600
    for entry in os.scandir(folder):
        if entry.name.startswith("bundle-") and entry.is_file() and entry.stat().st_mtime < cutoff:
            try:
                os.unlink(entry.path)
            except OSError:
                logger.warning("fulfilment: could not remove a leftover temporary file")
