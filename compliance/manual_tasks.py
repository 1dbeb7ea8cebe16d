"""Writes of manual tasks: work a person does in a system the back office cannot reach."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.history import set_history_actor
from compliance.models import ManualTask, ManualTaskTable, MappedTable, SystemOfRecord

# What to do, in the completing transaction, when a task is marked done. Compliance imports nothing of ours:
# the fulfilment app registers the continuation of the step waiting on the task (through the outbox), so
# marking a task done moves its step on at once instead of at the next poll.
_ON_DONE: list[Callable[[ManualTask], None]] = []


def manual_task_on_done(callback: Callable[[ManualTask], None]) -> None:
    """Call ``callback(task)`` inside the transaction of every ``manual_task_complete`` (once per callback)."""
    if callback not in _ON_DONE:
        _ON_DONE.append(callback)


# Operations whose result is a row count per table: the person reports each one.
COUNTED_OPERATIONS = {
    ManualTask.Operation.LOCATE,
    ManualTask.Operation.EXPORT,
    ManualTask.Operation.ERASE,
}


# Short action names for titles and lists ("Erase in Billing CRM"), by operation.
ACTION_NAMES = {
    ManualTask.Operation.LOCATE: "Find",
    ManualTask.Operation.EXPORT: "Export",
    ManualTask.Operation.ERASE: "Erase",
    ManualTask.Operation.RESTRICT: "Restrict",
    ManualTask.Operation.UNRESTRICT: "Lift restriction",
    ManualTask.Operation.SWEEP: "Retention sweep",
    ManualTask.Operation.RECTIFY: "Rectify",
}


def manual_task_title(*, operation: str, system: SystemOfRecord, reference: str = "") -> str:
    """A title that says which work, where and what for: "DSR-2026-00046: Erase in Billing CRM".

    ``reference`` is the request's (or the run's) reference, never personal data.
    """
    title = f"{ACTION_NAMES[ManualTask.Operation(operation)]} in {system.name}"
    return f"{reference}: {title}" if reference else title


def manual_task_open(
    *,
    system: SystemOfRecord,
    operation: str,
    key: str,
    title: str,
    instructions: str,
    account_ref: str = "",
    email: str = "",
    tables: list[MappedTable] | None = None,
) -> tuple[ManualTask, bool]:
    """The task for this work (``system``, ``operation``, ``key``), opened if there is none yet.

    An open task found again gets the subject's identifiers back if they were
    cleared. Returns ``(task, created)``.
    """
    with transaction.atomic():
        task = ManualTask.objects.select_for_update().filter(system=system, operation=operation, key=key).first()
        if task is None:
            try:
                with transaction.atomic():
                    task = ManualTask.objects.create(
                        system=system,
                        operation=operation,
                        key=key,
                        title=title[:200],
                        instructions=instructions,
                        subject_account_ref=account_ref[:64],
                        subject_email=email[:254],
                        assignee=system.manual_assignee,
                    )
            except IntegrityError:
                # Another worker opened it at the same moment: use theirs.
                return ManualTask.objects.get(system=system, operation=operation, key=key), False
            ManualTaskTable.objects.bulk_create([ManualTaskTable(task=task, table=table) for table in tables or []])
            return task, True
        if task.status == ManualTask.Status.OPEN and not (task.subject_account_ref or task.subject_email):
            task.subject_account_ref, task.subject_email = account_ref[:64], email[:254]
            task.save(update_fields=["subject_account_ref", "subject_email"])
        return task, False


def manual_task_complete(*, task_id: int, actor: User | None, outcome: str = "") -> ManualTask:
    """Close a task as done: every counted table needs its row count. Clears the subject's identifiers."""
    with transaction.atomic():
        task = ManualTask.objects.select_for_update().get(pk=task_id)
        if task.status != ManualTask.Status.OPEN:
            raise ValidationError(f"Manual task {task.pk} is {task.get_status_display().lower()}, not open.")
        if task.operation in COUNTED_OPERATIONS:
            missing = [row.table.table_name for row in task.tables.select_related("table") if row.rows is None]
            if missing:
                raise ValidationError(f"Give the row count of {', '.join(missing)} before marking the task done.")
        task.status = ManualTask.Status.DONE
        task.outcome = outcome or task.outcome
        task.completed_at = timezone.now()
        task.completed_by = actor
        task.subject_account_ref = ""
        task.subject_email = ""
        set_history_actor(task, actor)  # who, in the task's history
        task.save()
        for callback in _ON_DONE:
            callback(task)
    return task


def manual_task_cancel(*, task_id: int, actor: User | None, outcome: str = "") -> ManualTask:
    """Cancel an open task (the work will not be done this way). Clears the subject's identifiers."""
    with transaction.atomic():
        task = ManualTask.objects.select_for_update().get(pk=task_id)
        if task.status != ManualTask.Status.OPEN:
            raise ValidationError(f"Manual task {task.pk} is {task.get_status_display().lower()}, not open.")
        task.status = ManualTask.Status.CANCELLED
        task.outcome = outcome or task.outcome
        task.completed_at = timezone.now()
        task.completed_by = actor
        task.subject_account_ref = ""
        task.subject_email = ""
        set_history_actor(task, actor)  # who, in the task's history
        task.save()
    return task


def manual_task_reopen(*, task_id: int, actor: User | None) -> ManualTask:
    """Open a cancelled task again; the next run of the job gives it the subject's identifiers back."""
    with transaction.atomic():
        task = ManualTask.objects.select_for_update().get(pk=task_id)
        if task.status != ManualTask.Status.CANCELLED:
            raise ValidationError(f"Only a cancelled task can be reopened; task {task.pk} is {task.status}.")
        task.status = ManualTask.Status.OPEN
        task.completed_at = None
        task.completed_by = None
        set_history_actor(task, actor)  # who, in the task's history
        task.save()
    return task
