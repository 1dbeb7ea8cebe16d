"""The manual connector: a task for a named person, tracked to completion in the admin.

For systems the back office cannot reach (a shared drive, a vendor portal, paper
files). Every operation opens a ``ManualTask`` for the system's assignee with the
system's instructions and what to do, and raises ``ConnectorPending`` while it is
open. The same operation for the same subject finds the same task again; once the
person has marked it done (with a row count per mapped table), the call returns
those counts. A cancelled task fails the call until someone reopens it.

Exports through a manual system carry counts only: the person sends the data to
the compliance team by the route the instructions give.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from compliance.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorPending,
    ErasureOutcome,
    ErasurePlan,
    ExportSink,
    Subject,
    SweepBatch,
    TableCount,
)
from compliance.manual_tasks import manual_task_open, manual_task_title
from compliance.models import ManualTask, MappedTable

_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()

_WHAT: dict[str, str] = {
    ManualTask.Operation.LOCATE: "Find every record of this person and count them per table below.",
    ManualTask.Operation.EXPORT: (
        "Send a copy of every record of this person to the compliance team, then give the count per table below."
    ),
    ManualTask.Operation.ERASE: "Apply the erasure plan below to this person's records and count what you changed.",
    ManualTask.Operation.RESTRICT: "Mark this person's records as restricted: keep them, stop using them.",
    ManualTask.Operation.UNRESTRICT: "Lift the restriction on this person's records.",
    ManualTask.Operation.SWEEP: "Remove the records older than the cutoff below (retention).",
}


class ManualConnector(Connector):
    def _key(self, operation: str, payload: dict[str, Any]) -> str:
        canonical = json.dumps([self.system.pk, operation, payload], sort_keys=True, separators=(",", ":"))
        return hmac.new(settings.COMPLIANCE_HMAC_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()

    def _tables(self) -> list[MappedTable]:
        return list(self.system.tables.order_by("table_name"))

    def _task(
        self,
        operation: str,
        payload: dict[str, Any],
        *,
        subject: Subject | None = None,
        details: str = "",
        tables: list[MappedTable] | None = None,
    ) -> ManualTask:
        """The done task for this work; opens it or raises while it is open or cancelled."""
        instructions = "\n\n".join(
            part for part in [_WHAT[operation], details, self.system.manual_instructions] if part
        )
        task, created = manual_task_open(
            system=self.system,
            operation=operation,
            key=self._key(operation, payload),
            title=manual_task_title(
                operation=operation, system=self.system, reference=subject.reference if subject else ""
            ),
            instructions=instructions,
            account_ref=(subject.account_ref or "") if subject else "",
            email=(subject.key_for("email") or "") if subject and subject.email else "",
            tables=self._tables() if tables is None else tables,
        )
        if task.status == ManualTask.Status.DONE:
            return task
        if task.status == ManualTask.Status.CANCELLED:
            raise ConnectorError(
                f"Manual task {task.pk} ({self.system.slug}) was cancelled; reopen it in the admin or waive the step."
            )
        assignee = task.assignee.get_username() if task.assignee else "nobody yet"
        raise ConnectorPending(
            f"Manual task {task.pk} ({self.system.slug}) is {'opened' if created else 'still open'} for {assignee}; "
            "the step completes when it is marked done in the admin.",
            reference=f"manual task {task.pk}",
        )

    @staticmethod
    def _counts(task: ManualTask) -> list[TableCount]:
        return [
            TableCount(row.table_id, row.table.table_name, row.rows or 0)
            for row in task.tables.select_related("table").order_by("table__table_name")
        ]

    @staticmethod
    def _subject_payload(subject: Subject) -> dict[str, Any]:
        return {"account_ref": subject.account_ref, "email": subject.key_for("email") if subject.email else None}

    def locate(self, subject: Subject) -> list[TableCount]:
        task = self._task("locate", {"subject": self._subject_payload(subject)}, subject=subject)
        return self._counts(task)

    def export(self, subject: Subject, sink: ExportSink) -> list[TableCount]:
        task = self._task("export", {"subject": self._subject_payload(subject)}, subject=subject)
        return self._counts(task)

    def erase(self, subject: Subject, plan: ErasurePlan) -> list[ErasureOutcome]:
        tables = {table.pk: table for table in self._tables()}
        if all(entry.action == "keep" for entry in plan.tables):
            # Nothing to change: no task asks a person to open the system only to keep its rows.
            return [
                ErasureOutcome(entry.table_id, tables[entry.table_id].table_name, reason=entry.reason)
                for entry in plan.tables
                if entry.table_id in tables
            ]
        lines, chosen = [], []
        for entry in plan.tables:
            table = tables.get(entry.table_id)
            if table is None:
                raise ConnectorError(f"Mapped table {entry.table_id} is not part of system {self.system.slug!r}.")
            chosen.append(table)
            reason = f" ({entry.reason})" if entry.reason else ""
            lines.append(f"- {table.table_name}: {entry.action}{reason}")
        payload = {
            "subject": self._subject_payload(subject),
            "plan": [[e.table_id, e.action] for e in plan.tables],
        }
        task = self._task("erase", payload, subject=subject, details="Plan:\n" + "\n".join(lines), tables=chosen)
        counts = {count.table_id: count.rows for count in self._counts(task)}
        outcomes = []
        for entry in plan.tables:
            table, rows = tables[entry.table_id], counts.get(entry.table_id, 0)
            outcomes.append(
                ErasureOutcome(
                    table.pk,
                    table.table_name,
                    deleted=rows if entry.action == "delete" else 0,
                    masked=rows if entry.action == "mask" else 0,
                    kept=rows if entry.action == "keep" else 0,
                    reason=entry.reason,
                )
            )
        return outcomes

    def restrict(
        self, subject: Subject, *, restricted: bool = True, table_ids: Sequence[int] | None = None
    ) -> list[TableCount]:
        operation = ManualTask.Operation.RESTRICT if restricted else ManualTask.Operation.UNRESTRICT
        payload: dict[str, Any] = {"subject": self._subject_payload(subject)}
        tables = None
        if table_ids is not None:  # only these tables: the task names them (and is a different task)
            tables = [table for table in self._tables() if table.pk in set(table_ids)]
            payload["tables"] = sorted(table.pk for table in tables)
        task = self._task(operation, payload, subject=subject, tables=tables)
        return self._counts(task)

    def sweep_batch(
        self,
        table: MappedTable,
        *,
        timestamp_column: str,
        cutoff: datetime,
        action: str,
        checkpoint: str | None,
        batch_size: int,
        held_subjects: list[Subject] | None = None,
    ) -> SweepBatch:
        if table.system_id != self.system.pk:
            raise ConnectorError(f"Mapped table {table.pk} is not part of system {self.system.slug!r}.")
        held = len(held_subjects or [])
        details = (
            f"Table: {table.table_name}\nRecords whose {timestamp_column} is before {cutoff:%Y-%m-%d %H:%M %Z}: "
            f"{'delete them' if action == 'delete' else 'anonymise them'}."
        )
        if held:
            details += f"\n{held} people are under a legal hold: the compliance team will tell you who to skip."
        payload = {"table": table.pk, "column": timestamp_column, "cutoff": cutoff.isoformat(), "action": action}
        task = self._task("sweep", payload, details=details, tables=[table])
        rows = sum(count.rows for count in self._counts(task))
        return SweepBatch(
            matched=rows,
            affected=rows,
            skipped_held=0,
            checkpoint=checkpoint,
            keys_sha256=_EMPTY_DIGEST,
            done=True,
        )
