"""The erasure ledger: keyed hashes of erased subjects, and replaying erasures after a restore.

DANGER: ``erasures_replay`` deletes and overwrites personal data again, in every
system a ledger entry names. What protects it: it only acts on subjects whose
identifiers hash (under ``COMPLIANCE_HMAC_KEY``) to an entry of the ledger, and
only with the actions that entry recorded (the plan a compliance officer
approved at the time); the connector's erase is idempotent, so replaying twice,
or on a database that was never restored, changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from compliance.connectors import Connector, ConnectorError, ErasurePlan, Subject, TablePlan, get_connector
from compliance.models import SystemOfRecord
from fulfilment.models import ErasureLedgerEntry, FulfilmentPlan, TableAction
from fulfilment.services.common import identifier_hmac, logger


def ledger_record(*, plan: FulfilmentPlan, system: SystemOfRecord, subject: Subject) -> ErasureLedgerEntry | None:
    """Record that the plan's erasure in ``system`` is complete (once; nothing if it erased nothing there)."""
    tables = [
        {
            "table_id": entry["table_id"],
            "table": entry["table"],
            "action": entry["action"],
            # A table a legal obligation keeps in part: a replay erases only what the erasure erased.
            **(
                {"keep_newer": [[rule["column"], rule["cutoff"]] for rule in entry["keep_rows"]]}
                if entry.get("keep_rows")
                else {}
            ),
        }
        for entry in plan.tables
        if entry["system_id"] == system.pk and entry["action"] in {TableAction.DELETE, TableAction.MASK}
    ]
    if not tables:
        return None
    # Kept rows restricted through a flag (Art. 18): a replay after a restore sets the flag again.
    restricted = sorted(
        {
            step.evidence["kept"]["table_id"]
            for step in plan.steps.filter(system=system)
            if (step.evidence or {}).get("kept", {}).get("how") == "flag"
        }
    )
    if restricted:
        for table in tables:
            table["restrict_table_ids"] = restricted
    entry, _ = ErasureLedgerEntry.objects.get_or_create(
        request_reference=plan.request.reference,
        system=system,
        defaults={
            "request": plan.request,
            "account_hmac": identifier_hmac("account", subject.account_ref) if subject.account_ref else "",
            "email_hmac": identifier_hmac("email", subject.email) if subject.email else "",
            "plan": tables,
            "erased_at": timezone.now(),
        },
    )
    return entry


@dataclass
class ReplayReport:
    """What a replay did, per system: entries considered, subjects found again, rows changed."""

    systems: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def line(self, slug: str) -> dict[str, int]:
        return self.systems.setdefault(slug, {"entries": 0, "found": 0, "deleted": 0, "masked": 0})


def _candidates(connector: Connector, limit: int) -> list[Subject]:
    return connector.sample_subjects(limit)


def erasures_replay(*, since: datetime, dry_run: bool = False, scan_limit: int | None = None) -> ReplayReport:
    """Apply again every erasure recorded since ``since`` to the subjects found again in their systems.

    Each SQL system's subjects (its account table) are hashed and matched
    against the ledger; systems that cannot list their subjects (webhook,
    manual) are reported as skipped, for their owners to replay.
    """
    scan_limit = scan_limit or settings.ERASURE_REPLAY_SCAN_LIMIT
    report = ReplayReport()
    entries = ErasureLedgerEntry.objects.filter(erased_at__gte=since).select_related("system").order_by("erased_at")
    by_system: dict[int, list[ErasureLedgerEntry]] = {}
    for entry in entries:
        by_system.setdefault(entry.system_id, []).append(entry)
    for entries_of_system in by_system.values():
        system = entries_of_system[0].system
        line = report.line(system.slug)
        line["entries"] = len(entries_of_system)
        try:
            connector = get_connector(system)
            candidates = _candidates(connector, scan_limit)
        except ConnectorError as exc:
            report.skipped[system.slug] = str(exc)
            logger.warning("erasure replay skipped system %s: %s", system.pk, type(exc).__name__)
            continue
        by_account = {e.account_hmac: e for e in entries_of_system if e.account_hmac}
        by_email = {e.email_hmac: e for e in entries_of_system if e.email_hmac}
        for candidate in candidates:
            entry = None
            if candidate.account_ref:
                entry = by_account.get(identifier_hmac("account", candidate.account_ref))
            if entry is None and candidate.email:
                entry = by_email.get(identifier_hmac("email", candidate.email))
            if entry is None:
                continue
            line["found"] += 1
            if dry_run:
                continue
            plan = ErasurePlan(
                tables=[
                    TablePlan(
                        table_id=t["table_id"],
                        action=t["action"],
                        reason="replay after restore",
                        keep_newer=tuple(
                            (column, datetime.fromisoformat(cutoff)) for column, cutoff in t.get("keep_newer", [])
                        ),
                    )
                    for t in entry.plan
                ]
            )
            try:
                outcomes = connector.erase(candidate, plan)
            except ConnectorError as exc:
                report.skipped[system.slug] = str(exc)
                logger.warning("erasure replay on system %s failed: %s", system.pk, type(exc).__name__)
                break
            restrict = sorted({tid for t in entry.plan for tid in t.get("restrict_table_ids", [])})
            if restrict:
                try:
                    connector.restrict(candidate, restricted=True, table_ids=restrict)
                except ConnectorError as exc:
                    report.skipped[system.slug] = str(exc)
                    break
            line["deleted"] += sum(o.deleted for o in outcomes)
            line["masked"] += sum(o.masked for o in outcomes)
            with transaction.atomic():
                ErasureLedgerEntry.objects.filter(pk=entry.pk).update(
                    replays=F("replays") + 1, last_replayed_at=timezone.now()
                )
        logger.info("erasure replay on system %s: %s", system.pk, line)
    return report
