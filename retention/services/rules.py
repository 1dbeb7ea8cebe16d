"""Retention rules and their beat schedules."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from compliance.history import set_history_actor
from compliance.models import DataCategory, LegalBasis, MappedColumn, MappedTable, Regime
from retention.models import RetentionRule, RetentionRuleRegimeBasis
from retention.scheduling import parse_cadence

START_TASK = "retention.tasks.retention_rule_start_task"


def mapped_table_lookup(*, system_slug: str, table_name: str) -> MappedTable:
    """The mapped table ``table_name`` of a system, or a clear refusal when it is not in the data map."""
    table = MappedTable.objects.select_related("system").filter(system__slug=system_slug, table_name=table_name).first()
    if table is None:
        raise ValidationError(
            {
                "table": f"Table '{table_name}' is not in the data map of system '{system_slug}': map it before "
                "giving it a retention rule."
            }
        )
    return table


def mapped_column_lookup(*, table: MappedTable, column_name: str) -> MappedColumn:
    """A mapped column by name, on ``table`` or, as ``parent_table.column``, on its join path."""
    table_name, _, name = column_name.rpartition(".")
    owner = table
    if table_name:
        owner = next((t for t in [table, *table.event_tables()] if t.table_name == table_name), None)
        if owner is None:
            raise ValidationError(
                {"trigger_column": f"Table '{table_name}' is not on the join path of {table} to the subject."}
            )
    column = MappedColumn.objects.filter(table=owner, name=name).first()
    if column is None:
        raise ValidationError({"trigger_column": f"Column '{name}' of {owner} is not in the data map."})
    return column


def retention_rule_schedule_sync(*, rule: RetentionRule) -> PeriodicTask:
    """Create or update the rule's beat entry so beat starts it on its cadence (disabled rules stay off).

    The periodic task is named after the rule and visible under *Periodic tasks*;
    its enabled flag follows the rule's.
    """
    fields = parse_cadence(rule.cadence)
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=timezone.get_default_timezone_name())
    name = f"Retention rule #{rule.pk}: {rule.name}"[:200]
    values: dict[str, Any] = {
        "name": name,
        "task": START_TASK,
        "args": f"[{rule.pk}]",
        "crontab": crontab,
        "interval": None,
        "enabled": rule.is_enabled,
        "description": f"Starts retention rule #{rule.pk} ({rule.table}, {rule.period_display}).",
    }
    task = rule.periodic_task
    if task is None:
        task = PeriodicTask.objects.create(**values)
        RetentionRule.objects.filter(pk=rule.pk).update(periodic_task=task)
        rule.periodic_task = task
        return task
    changed = [key for key, value in values.items() if getattr(task, key) != value]
    if changed:
        for key in changed:
            setattr(task, key, values[key])
        task.save()
    return task


@transaction.atomic
def retention_rule_save(*, rule: RetentionRule, actor: User | None) -> RetentionRule:
    """Validate and save a new or changed rule, then bring its beat schedule in step.

    Refuses (``ValidationError`` with a message per field) a period that is not
    positive, a trigger column that is not a timestamp or not on the table's join
    path, a second rule with the same table and action, a legal obligation
    without its source and a cadence beat could not run.
    """
    rule.full_clean()
    set_history_actor(rule, actor)
    rule.save()
    retention_rule_schedule_sync(rule=rule)
    return rule


def retention_rule_create(
    *,
    actor: User | None,
    name: str,
    data_category: DataCategory | None,
    table: MappedTable,
    trigger_column: MappedColumn,
    period: int,
    period_unit: str,
    action: str,
    justification: str,
    legal_basis: LegalBasis,
    trigger: str = RetentionRule.Trigger.ROW_TIMESTAMP,
    period_anchor: str = "trigger",
    legal_source: str = "",
    owner: User | None = None,
    is_enabled: bool = True,
    cadence: str = "30 2 * * *",
    batch_size: int = 5000,
    approval_threshold: int = 10_000,
) -> RetentionRule:
    """A new retention rule with its beat schedule (see ``retention_rule_save`` for what is refused)."""
    rule = RetentionRule(
        name=name,
        data_category=data_category,
        table=table,
        trigger=trigger,
        trigger_column=trigger_column,
        period=period,
        period_unit=period_unit,
        period_anchor=period_anchor,
        action=action,
        justification=justification,
        legal_basis=legal_basis,
        legal_source=legal_source,
        owner=owner,
        is_enabled=is_enabled,
        cadence=cadence,
        batch_size=batch_size,
        approval_threshold=approval_threshold,
    )
    return retention_rule_save(rule=rule, actor=actor)


@transaction.atomic
def retention_rule_delete(*, rule: RetentionRule, actor: User | None) -> None:
    """Delete a rule that never ran, with its beat entry. A rule with runs is kept as their evidence."""
    if rule.runs.exists():
        raise ValidationError("This rule has runs, which are evidence: disable it instead of deleting it.")
    task = rule.periodic_task
    set_history_actor(rule, actor)
    rule.delete()
    if task is not None:
        task.delete()


@transaction.atomic
def retention_rule_regime_basis_set(
    *, rule: RetentionRule, regime: Regime, legal_basis: LegalBasis, legal_source: str = "", actor: User | None
) -> RetentionRuleRegimeBasis:
    """Say that the records of ``regime`` kept under ``rule`` rest on ``legal_basis`` (records of requests:
    a legal obligation under the CCPA and Colorado, the controller's accountability under the GDPR)."""
    basis = RetentionRuleRegimeBasis.objects.filter(rule=rule, regime=regime).first() or RetentionRuleRegimeBasis(
        rule=rule, regime=regime
    )
    basis.legal_basis = legal_basis
    basis.legal_source = legal_source
    basis.full_clean()
    set_history_actor(basis, actor)
    basis.save()
    return basis
