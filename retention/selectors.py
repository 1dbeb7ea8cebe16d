"""Reads of the retention app: which holds and rules apply, cutoffs, the retention matrix.

``erasure_exemptions`` and ``held_subjects_for`` are the contract erasure (the
fulfilment workers) and sweeps code against: what must be kept wins over what
may be deleted, and says why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from compliance.connectors.base import Subject
from compliance.models import DataCategory, MappedColumn, MappedTable, SystemOfRecord
from retention.models import (
    LEGAL_OBLIGATION_SLUG,
    LegalHold,
    RetentionRule,
    RetentionRun,
    RunStatus,
)
from retention.scheduling import next_run_at, rule_cutoff


def active_holds(at: datetime | None = None) -> QuerySet[LegalHold]:
    """Holds in force at ``at`` (default now): started, not ended, not released."""
    at = at or timezone.now()
    return LegalHold.objects.filter(released_at__isnull=True, starts_at__lte=at).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at)
    )


def table_categories(table: MappedTable) -> set[int]:
    """Ids of the data categories of the table's mapped columns."""
    return set(
        MappedColumn.objects.filter(table=table, data_category__isnull=False).values_list("data_category", flat=True)
    )


def holds_for_table(
    table: MappedTable,
    *,
    extra_category_id: int | None = None,
    categories: set[int] | None = None,
    at: datetime | None = None,
) -> list[LegalHold]:
    """Active holds whose scope takes in ``table``, whatever subject they name.

    A category-scoped hold takes in every table with a column of that category
    (and, for a sweep, the tables of a rule of that category: ``extra_category_id``).
    ``categories`` passes the table's categories when the caller already knows them.
    """
    categories = set(categories) if categories is not None else table_categories(table)
    if extra_category_id is not None:
        categories.add(extra_category_id)
    holds = active_holds(at).filter(
        Q(table__isnull=True) | Q(table=table),
        Q(system__isnull=True) | Q(system_id=table.system_id),
        Q(data_category__isnull=True) | Q(data_category__in=categories),
    )
    return list(holds.order_by("name"))


def hold_subject(hold: LegalHold) -> Subject | None:
    """The subject a hold names, as the connectors know subjects, or None for a hold on whole tables."""
    if not hold.has_subject:
        return None
    return Subject(account_ref=hold.subject_account_ref or None, email=hold.subject_email or None)


def held_subjects_for(*, table: MappedTable, extra_category_id: int | None = None) -> list[Subject]:
    """Subjects whose rows of ``table`` a sweep must skip: every active hold that names a subject."""
    subjects = []
    for hold in holds_for_table(table, extra_category_id=extra_category_id):
        subject = hold_subject(hold)
        if subject is not None and subject not in subjects:
            subjects.append(subject)
    return subjects


def _same_subject(hold: LegalHold, subject: Subject) -> bool:
    if hold.subject_account_ref and subject.account_ref and hold.subject_account_ref == str(subject.account_ref):
        return True
    return bool(
        hold.subject_email and subject.email and hold.subject_email.strip().lower() == subject.email.strip().lower()
    )


@dataclass(frozen=True)
class RuleKeep:
    """Rows a legal-obligation rule keeps from erasure: those whose trigger is on or after ``cutoff``.

    ``timestamp_column`` is the trigger as the connector takes it (``timestamp_column_for``); rows
    older than the cutoff are past the rule's period and are erased with the rest (Art. 17(3)(b)
    reaches only what the obligation still requires).
    """

    rule_id: int
    rule_name: str
    reason: str
    timestamp_column: str
    cutoff: datetime
    period: int
    period_unit: str
    period_anchor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule": self.rule_name,
            "reason": self.reason,
            "column": self.timestamp_column,
            "cutoff": self.cutoff.isoformat(),
            "period": self.period,
            "unit": self.period_unit,
            "anchor": self.period_anchor,
        }


@dataclass(frozen=True)
class Exemption:
    """What erasure must keep of one table for one subject, and why.

    A legal hold keeps every row of the subject (``whole_table``); a legal-obligation rule keeps only the
    rows still inside its period (``rules``).
    """

    holds: tuple[LegalHold, ...] = ()
    rules: tuple[RuleKeep, ...] = ()

    @property
    def whole_table(self) -> bool:
        return bool(self.holds)

    @property
    def reason(self) -> str:
        """Holds first, then rules, e.g. "Legal hold 'Litigation 2026-14' (litigation)"."""
        return "; ".join([hold.exemption_reason() for hold in self.holds] + [rule.reason for rule in self.rules])

    def holds_data(self) -> list[dict[str, Any]]:
        return [
            {"hold_id": hold.pk, "hold": hold.name, "ends_at": hold.ends_at.isoformat() if hold.ends_at else None}
            for hold in self.holds
        ]


def erasure_exemptions(
    *, subject: Subject, tables: Iterable[MappedTable], now: datetime | None = None
) -> dict[int, Exemption]:
    """The tables of which erasure must keep some or all of ``subject``'s rows, each with what and why.

    An active legal hold that takes a table in (a hold on the subject, or on the table, its system or a
    category it holds, for everyone) keeps every row of it. An enabled retention rule on the table that
    rests on a legal obligation keeps only the rows inside its period: those whose trigger is on or after
    the rule's cutoff, computed as its sweeps compute it (``cutoff_for``). Rows past the period are erased.
    """
    tables = list(tables)
    if not tables:
        return {}
    holds = list(active_holds().select_related("table"))
    columns = MappedColumn.objects.filter(table__in=tables, data_category__isnull=False)
    categories: dict[int, set[int]] = defaultdict(set)
    for table_id, category_id in columns.values_list("table_id", "data_category_id"):
        categories[table_id].add(category_id)
    rules = (
        RetentionRule.objects.filter(table__in=tables, is_enabled=True, legal_basis__slug=LEGAL_OBLIGATION_SLUG)
        .select_related("legal_basis", "trigger_column__table")
        .order_by("name")
    )
    rules_by_table: dict[int, list[RetentionRule]] = defaultdict(list)
    for rule in rules:
        rules_by_table[rule.table_id].append(rule)

    exemptions: dict[int, Exemption] = {}
    for table in tables:
        kept_by = []
        for hold in sorted(holds, key=lambda h: h.name):
            if hold.table_id and hold.table_id != table.pk:
                continue
            if hold.system_id and hold.system_id != table.system_id:
                continue
            if hold.data_category_id and hold.data_category_id not in categories[table.pk]:
                continue
            if hold.has_subject and not _same_subject(hold, subject):
                continue
            kept_by.append(hold)
        keeps = tuple(
            RuleKeep(
                rule_id=rule.pk,
                rule_name=rule.name,
                reason=rule.exemption_reason(),
                timestamp_column=timestamp_column_for(rule),
                cutoff=cutoff_for(rule, now),
                period=rule.period,
                period_unit=rule.period_unit,
                period_anchor=rule.period_anchor,
            )
            for rule in rules_by_table[table.pk]
        )
        if kept_by or keeps:
            exemptions[table.pk] = Exemption(holds=tuple(kept_by), rules=keeps)
    return exemptions


def timestamp_column_for(rule: RetentionRule) -> str:
    """The trigger as the connector takes it: the column name, qualified by its table for a subject event."""
    column = rule.trigger_column
    if column.table_id == rule.table_id:
        return column.name
    return f"{column.table.table_name}.{column.name}"


def cutoff_for(rule: RetentionRule, now: datetime | None = None) -> datetime:
    return rule_cutoff(period=rule.period, unit=rule.period_unit, anchor=rule.period_anchor, now=now)


def rule_next_run(rule: RetentionRule, now: datetime | None = None) -> datetime | None:
    """When beat next starts ``rule`` (None when disabled or unscheduled)."""
    task = rule.periodic_task
    if task is None or not task.enabled or not rule.is_enabled or task.crontab is None:
        return None
    return next_run_at(task.crontab.schedule, task.last_run_at, now)


# ------------------------------------------------------------------------------
# Retention matrix
# ------------------------------------------------------------------------------


@dataclass
class MatrixCell:
    rules: list[RetentionRule] = field(default_factory=list)
    holds_data: bool = False  # the system holds data of the category (some mapped column)

    @property
    def is_gap(self) -> bool:
        return self.holds_data and not any(rule.is_enabled for rule in self.rules)


@dataclass
class RetentionMatrix:
    categories: list[DataCategory]
    systems: list[SystemOfRecord]
    cells: dict[tuple[int, int], MatrixCell]
    tables_without_rule: list[MappedTable]
    categories_without_rule: list[DataCategory]
    next_runs: dict[int, datetime | None]

    def rows(self) -> list[tuple[DataCategory, list[MatrixCell]]]:
        return [(c, [self.cells[(c.pk, s.pk)] for s in self.systems]) for c in self.categories]


def retention_matrix(now: datetime | None = None) -> RetentionMatrix:
    """Category × system with the rules, their periods and next runs; gaps flagged.

    Nothing personal may lack a rule: a mapped table with a column in a data
    category but no enabled rule is listed, as is a category some system holds
    with no enabled rule in that system.
    """
    categories = list(DataCategory.objects.order_by("display_order", "name"))
    systems = list(SystemOfRecord.objects.filter(is_active=True).order_by("name"))
    cells = {(c.pk, s.pk): MatrixCell() for c in categories for s in systems}
    held = MappedColumn.objects.filter(data_category__isnull=False, table__system__is_active=True)
    for category_id, system_id in held.values_list("data_category_id", "table__system_id").distinct():
        if (category_id, system_id) in cells:
            cells[(category_id, system_id)].holds_data = True
    rules = list(
        RetentionRule.objects.select_related(
            "table__system", "data_category", "legal_basis", "periodic_task__crontab", "trigger_column"
        )
        .prefetch_related("regime_bases__regime", "regime_bases__legal_basis")
        .order_by("name")
    )
    next_runs = {}
    for rule in rules:
        key = (rule.data_category_id, rule.table.system_id)
        if key in cells:
            cells[key].rules.append(rule)
        next_runs[rule.pk] = rule_next_run(rule, now)
    for rule in rules:
        rule.next_run = next_runs[rule.pk]
    ruled_tables = {rule.table_id for rule in rules if rule.is_enabled}
    tables_without_rule = list(
        MappedTable.objects.filter(system__is_active=True, columns__data_category__isnull=False)
        .exclude(pk__in=ruled_tables)
        .select_related("system")
        .distinct()
        .order_by("system__name", "table_name")
    )
    ruled_categories = {rule.data_category_id for rule in rules if rule.is_enabled}
    held_categories = {c for (c, _s), cell in cells.items() if cell.holds_data}
    categories_without_rule = [c for c in categories if c.pk in held_categories and c.pk not in ruled_categories]
    return RetentionMatrix(categories, systems, cells, tables_without_rule, categories_without_rule, next_runs)


def runs_needing_attention() -> dict[str, list[RetentionRun]]:
    """Runs a compliance officer should look at: awaiting approval, running, recently failed."""
    base = RetentionRun.objects.select_related("rule").order_by("-created_at")
    return {
        "awaiting": list(base.filter(status=RunStatus.AWAITING_APPROVAL)[:20]),
        "running": list(base.filter(status__in=[RunStatus.RUNNING, RunStatus.QUEUED], mode="execute")[:20]),
        "failed": list(base.filter(status=RunStatus.FAILED, created_at__gte=timezone.now() - timedelta(days=7))[:20]),
    }


def legal_hold_release_summary(hold: LegalHold) -> dict[str, Any]:
    """What releasing ``hold`` lets act on its rows again: the enabled retention rules whose sweeps it held back,
    and whether erasures of a named subject will reach the held rows."""
    rules = []
    for rule in RetentionRule.objects.filter(is_enabled=True).select_related("table__system", "data_category"):
        held_by = holds_for_table(rule.table, extra_category_id=rule.data_category_id)
        if any(h.pk == hold.pk for h in held_by):
            rules.append(rule)
    return {"rules": rules, "subject_scoped": hold.has_subject, "active": hold.is_active()}
