"""The data map as a YAML file, its audit against the real schemas, and column import.

The file is kept in version control next to the system it describes (the
sample platform ships ``sample_platform/datamap.yaml``). ``datamap_import``
creates or updates what the file lists and leaves everything else alone
(``prune`` removes tables and columns of the file's systems that the file no
longer lists); running it twice changes nothing the second time, so no empty
history rows. ``datamap_audit`` is what CI runs: one line per problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from compliance.connectors.base import ConnectorError
from compliance.connectors.introspection import SchemaReader, schema_cache
from compliance.history import set_history_actor
from compliance.models import (
    AccessWithheld,
    ColumnTreatment,
    DataCategory,
    DataSource,
    MappedColumn,
    MappedTable,
    ReviewedTable,
    SystemOfRecord,
    column_treatment_problem,
)

FORMAT_VERSION = 1

_SYSTEM_KEYS = {
    "slug",
    "name",
    "owner",
    "kind",
    "description",
    "database_alias",
    "webhook_url",
    "webhook_secret_setting",
    "manual_assignee",
    "manual_instructions",
    "data_categories",
    "is_active",
    "tables",
    "reviewed_tables",
}
_TABLE_KEYS = {
    "name",
    "description",
    "primary_key",
    "subject_column",
    "subject_key",
    "parent",
    "parent_column",
    "restriction_flag_column",
    "restricted_by",
    "account_email_column",
    "source",
    "source_party",
    "columns",
}
_REVIEWED_KEYS = {"name", "reason", "needs_review"}
_CATEGORY_KEYS = {"slug", "name", "description", "examples"}
_COLUMN_KEYS = {
    "name",
    "category",
    "not_personal",
    "treatment",
    "replacement",
    "timestamp",
    "source",
    "source_party",
    "notes",
    "needs_review",
    "withheld",
}


class DataMapFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every reason, one line each, with its location."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    not_in_file: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed"
        if self.not_in_file:
            text += f"; {len(self.not_in_file)} in the database but not in the file"
        return text


# ------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------


def _drop_empty(values: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keep or v not in ("", None, False, [])}


def datamap_export(*, systems=None) -> dict[str, Any]:
    """The data map (all systems, or the given queryset) as plain data, in a stable order."""
    systems = (systems if systems is not None else SystemOfRecord.objects.all()).order_by("slug")
    systems = systems.prefetch_related(
        "data_categories", "tables__columns__data_category", "reviewed_tables"
    ).select_related("manual_assignee")
    out = []
    for system in systems:
        tables = sorted(system.tables.all(), key=lambda t: t.table_name)
        by_id = {t.pk: t for t in tables}
        entry = _drop_empty(
            {
                "slug": system.slug,
                "name": system.name,
                "owner": system.owner,
                "kind": system.kind,
                "description": system.description,
                "database_alias": system.database_alias,
                "webhook_url": system.webhook_url,
                "webhook_secret_setting": system.webhook_secret_setting,
                "manual_assignee": system.manual_assignee.get_username() if system.manual_assignee else "",
                "manual_instructions": system.manual_instructions,
                "is_active": system.is_active,
                "data_categories": sorted(c.slug for c in system.data_categories.all()),
                "tables": [],
            },
            keep={"slug", "name", "owner", "kind", "is_active", "tables"},
        )
        for table in tables:
            columns = []
            for column in sorted(table.columns.all(), key=lambda c: c.name):
                columns.append(
                    _drop_empty(
                        {
                            "name": column.name,
                            "category": column.data_category.slug if column.data_category else "",
                            "not_personal": column.not_personal,
                            "treatment": column.treatment,
                            "replacement": column.replacement,
                            "timestamp": column.is_timestamp,
                            "source": column.data_source,
                            "source_party": column.data_source_party,
                            "needs_review": column.needs_review,
                            "withheld": column.access_withheld,
                            "notes": column.notes,
                        },
                        keep={"name", "treatment"},
                    )
                )
            entry["tables"].append(
                _drop_empty(
                    {
                        "name": table.table_name,
                        "description": table.description,
                        "primary_key": _key_out(table),
                        "subject_column": table.subject_column,
                        "subject_key": table.subject_key,
                        "parent": by_id[table.parent_id].table_name if table.parent_id else "",
                        "parent_column": table.parent_column,
                        "restriction_flag_column": table.restriction_flag_column,
                        "restricted_by": by_id[table.restricted_by_id].table_name if table.restricted_by_id else "",
                        "account_email_column": table.account_email_column,
                        "source": table.data_source,
                        "source_party": table.data_source_party,
                        "columns": columns,
                    },
                    keep={"name", "primary_key", "columns"},
                )
            )
        reviewed = sorted(system.reviewed_tables.all(), key=lambda t: t.table_name)
        if reviewed:
            entry["reviewed_tables"] = [
                _drop_empty({"name": t.table_name, "reason": t.reason, "needs_review": t.needs_review}, {"name"})
                for t in reviewed
            ]
        out.append(entry)
    return {"version": FORMAT_VERSION, "systems": out}


def _key_out(table: MappedTable) -> str | list[str]:
    """``primary_key`` as the file writes it: a column name, or a list for a key of several columns."""
    columns = table.key_columns()
    return columns if len(columns) > 1 else table.primary_key


def _key_in(value: Any) -> str:
    """``primary_key`` from the file (a name, "a, b" or a list) as the map stores it: names joined by commas."""
    names = value if isinstance(value, list) else _text(value).split(",")
    return ",".join(_text(name).strip() for name in names if _text(name).strip())


def datamap_dump(*, systems=None) -> str:
    header = "# Data map: systems of record, their tables and columns (manage.py import_datamap reads it back).\n"
    return header + yaml.safe_dump(datamap_export(systems=systems), sort_keys=False, allow_unicode=True, width=100)


# ------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------


def _check_keys(where: str, values: Any, allowed: set[str], required: set[str], problems: list[str]) -> bool:
    if not isinstance(values, dict):
        problems.append(f"{where}: expected a mapping.")
        return False
    unknown = sorted(set(values) - allowed)
    if unknown:
        problems.append(f"{where}: unknown key {unknown[0]!r}.")
    missing = sorted(required - set(values))
    if missing:
        problems.append(f"{where}: missing key {missing[0]!r}.")
    return not unknown and not missing


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _validate_file(data: Any) -> list[str]:
    """Structural problems of a data map file (before anything touches the database)."""
    problems: list[str] = []
    if not isinstance(data, dict) or "systems" not in data:
        return ["the file must be a mapping with a 'systems' list."]
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(f"unsupported version {data.get('version')!r} (expected {FORMAT_VERSION}).")
    if not isinstance(data["systems"], list):
        return [*problems, "'systems' must be a list."]
    categories = set(DataCategory.objects.values_list("slug", flat=True))
    categories |= _validate_categories(data.get("data_categories"), problems)
    unknown_categories: dict[str, list[str]] = {}
    kinds = set(SystemOfRecord.Kind.values)
    treatments = set(ColumnTreatment.values)
    subject_keys = set(MappedTable.SubjectKey.values)
    sources = set(DataSource.values)
    withheld_reasons = set(AccessWithheld.values)
    slugs = set()
    for index, system in enumerate(data["systems"]):
        where = f"systems[{index}]"
        if not _check_keys(where, system, _SYSTEM_KEYS, {"slug", "name", "owner", "kind"}, problems):
            continue
        where = _text(system["slug"])
        if where in slugs:
            problems.append(f"{where}: the system is listed twice.")
        slugs.add(where)
        if system["kind"] not in kinds:
            problems.append(f"{where}: unknown kind {system['kind']!r} (one of {', '.join(sorted(kinds))}).")
        for slug in system.get("data_categories") or []:
            if slug not in categories:
                unknown_categories.setdefault(_text(slug), []).append(where)
        _validate_reviewed(where, system.get("reviewed_tables"), problems)
        names = set()
        tables = system.get("tables") or []
        if not isinstance(tables, list):
            problems.append(f"{where}: 'tables' must be a list.")
            continue
        for t_index, table in enumerate(tables):
            t_where = f"{where}.tables[{t_index}]"
            if not _check_keys(t_where, table, _TABLE_KEYS, {"name"}, problems):
                continue
            t_where = f"{where}.{table['name']}"
            if table["name"] in names:
                problems.append(f"{t_where}: the table is listed twice.")
            names.add(table["name"])
            key = table.get("primary_key")
            if isinstance(key, dict) or (
                isinstance(key, list) and not all(isinstance(name, str) and name and "," not in name for name in key)
            ):
                problems.append(
                    f"{t_where}: primary_key is a column name or a list of column names (a key of several "
                    "columns); leave it out to take the table's own."
                )
            if table.get("subject_key") and table["subject_key"] not in subject_keys:
                problems.append(f"{t_where}: unknown subject key {table['subject_key']!r}.")
            if table.get("source") and table["source"] not in sources:
                problems.append(f"{t_where}: unknown source {table['source']!r} (one of {', '.join(sorted(sources))}).")
            columns = table.get("columns") or []
            if not isinstance(columns, list):
                problems.append(f"{t_where}: 'columns' must be a list.")
                continue
            seen = set()
            for c_index, column in enumerate(columns):
                c_where = f"{t_where}.columns[{c_index}]"
                if not _check_keys(c_where, column, _COLUMN_KEYS, {"name"}, problems):
                    continue
                c_where = f"{t_where}.{column['name']}"
                if column["name"] in seen:
                    problems.append(f"{c_where}: the column is listed twice.")
                seen.add(column["name"])
                if column.get("category") and column["category"] not in categories:
                    unknown_categories.setdefault(_text(column["category"]), []).append(c_where)
                if column.get("treatment", ColumnTreatment.KEEP) not in treatments:
                    problems.append(f"{c_where}: unknown treatment {column['treatment']!r}.")
                if column.get("source") and column["source"] not in sources:
                    problems.append(f"{c_where}: unknown source {column['source']!r}.")
                if column.get("withheld") and column["withheld"] not in withheld_reasons:
                    problems.append(
                        f"{c_where}: unknown withheld reason {column['withheld']!r} "
                        f"(one of {', '.join(sorted(withheld_reasons))})."
                    )
        for table in tables:
            if isinstance(table, dict) and table.get("parent") and table["parent"] not in names:
                problems.append(f"{where}.{table.get('name')}: parent {table['parent']!r} is not a table of the file.")
            if isinstance(table, dict) and table.get("restricted_by") and table["restricted_by"] not in names:
                problems.append(
                    f"{where}.{table.get('name')}: restricted_by {table['restricted_by']!r} is not a table of the file."
                )
    problems.extend(_unknown_category_lines(unknown_categories))
    return problems


def _validate_categories(declared: Any, problems: list[str]) -> set[str]:
    """The slugs of the categories the file declares (``data_categories`` at its top), checked."""
    if declared is None:
        return set()
    if not isinstance(declared, list):
        problems.append("data_categories: expected a list of categories (slug, name, description, examples).")
        return set()
    slugs = set()
    for index, entry in enumerate(declared):
        where = f"data_categories[{index}]"
        if not _check_keys(where, entry, _CATEGORY_KEYS, {"slug", "name"}, problems):
            continue
        examples = entry.get("examples")
        if examples is not None and not isinstance(examples, str | list):
            problems.append(f"{where}: examples is a text or a list of texts.")
        slugs.add(_text(entry["slug"]))
    return slugs


def _unknown_category_lines(unknown: dict[str, list[str]]) -> list[str]:
    """One line per unknown category, however many columns use it, saying where to add it."""
    lines = []
    for slug, places in sorted(unknown.items()):
        more = f" and {len(places) - 1} more" if len(places) > 1 else ""
        lines.append(
            f"unknown data category {slug!r} (used by {places[0]}{more}): declare it in the file under "
            "data_categories (slug, name, description, examples), or add it in the admin under Data categories."
        )
    return lines


def _import_categories(declared: list[dict[str, Any]], report: ImportReport, problems: list[str], actor) -> None:
    """Create the categories the file declares that do not exist yet. An existing category (the policy's,
    edited by compliance staff in the admin) is used as it is: the file never rewrites it."""
    existing = set(DataCategory.objects.values_list("slug", flat=True))
    for entry in declared:
        slug = _text(entry["slug"])
        if slug in existing:
            report.unchanged += 1
            continue
        examples = entry.get("examples") or ""
        if isinstance(examples, list):
            examples = "\n".join(_text(example) for example in examples)
        category = DataCategory(
            slug=slug, name=_text(entry["name"]), description=_text(entry.get("description")), examples=examples
        )
        _save_if_changed(category, {}, report, f"data_categories.{slug}", problems, actor)
        existing.add(slug)


def _validate_reviewed(where: str, reviewed: Any, problems: list[str]) -> None:
    if reviewed is None:
        return
    if not isinstance(reviewed, list):
        problems.append(f"{where}: 'reviewed_tables' must be a list.")
        return
    seen = set()
    for index, entry in enumerate(reviewed):
        r_where = f"{where}.reviewed_tables[{index}]"
        if not _check_keys(r_where, entry, _REVIEWED_KEYS, {"name", "reason"}, problems):
            continue
        if entry["name"] in seen:
            problems.append(f"{where}.{entry['name']}: the reviewed table is listed twice.")
        seen.add(entry["name"])
        if not _text(entry["reason"]).strip():
            problems.append(f"{where}.{entry['name']}: say why the table holds no personal data (reason).")


def _save_if_changed(
    obj, values: dict[str, Any], report: ImportReport, where: str, problems: list[str], actor: User | None
):
    """Set ``values`` on ``obj``; validate and save only if something differs (or it is new)."""
    is_new = obj.pk is None
    changed = [key for key, value in values.items() if getattr(obj, key) != value]
    for key in changed:
        setattr(obj, key, values[key])
    if not is_new and not changed:
        report.unchanged += 1
        return obj
    try:
        obj.full_clean()
    except ValidationError as exc:
        problems.extend(f"{where}: {message}" for message in _messages(exc))
        return None
    set_history_actor(obj, actor)
    obj.save()
    if is_new:
        report.created += 1
    else:
        report.updated += 1
    return obj


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{key}: {message}" if key != "__all__" else message
            for key, msgs in exc.message_dict.items()
            for message in msgs
        ]
    return list(exc.messages)


def _parents_first(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {t["name"]: t for t in tables}
    ordered: list[dict[str, Any]] = []
    visiting: set[str] = set()

    def visit(table):
        if table in ordered or table["name"] in visiting:
            return
        visiting.add(table["name"])
        parent = by_name.get(table.get("parent") or "")
        if parent is not None:
            visit(parent)
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered


def datamap_import(data: Any, *, actor: User | None = None, prune: bool = False) -> ImportReport:
    """Create or update the data map from ``data`` (a parsed YAML file). All or nothing.

    Every entry is validated as if saved in the admin (names must exist in the
    system's database, join paths must reach the subject); any problem rolls the
    whole import back and raises ``DataMapFileError`` listing them all.
    """
    problems = _validate_file(data)
    if problems:
        raise DataMapFileError(problems)
    report = ImportReport()
    User = get_user_model()
    with transaction.atomic(), schema_cache():
        _import_categories(data.get("data_categories") or [], report, problems, actor)
        categories = {c.slug: c for c in DataCategory.objects.all()}
        for entry in data["systems"]:
            slug = _text(entry["slug"])
            assignee = None
            if entry.get("manual_assignee"):
                assignee = User.objects.filter(**{User.USERNAME_FIELD: entry["manual_assignee"]}).first()
                if assignee is None:
                    problems.append(f"{slug}: no user {entry['manual_assignee']!r} for manual_assignee.")
                    continue
            system = SystemOfRecord.objects.filter(slug=slug).first() or SystemOfRecord(slug=slug)
            system = _save_if_changed(
                system,
                {
                    "name": _text(entry["name"]),
                    "owner": _text(entry["owner"]),
                    "kind": entry["kind"],
                    "description": _text(entry.get("description")),
                    "database_alias": _text(entry.get("database_alias")),
                    "webhook_url": _text(entry.get("webhook_url")),
                    "webhook_secret_setting": _text(entry.get("webhook_secret_setting")),
                    "manual_assignee": assignee,
                    "manual_instructions": _text(entry.get("manual_instructions")),
                    "is_active": bool(entry.get("is_active", True)),
                },
                report,
                slug,
                problems,
                actor,
            )
            if system is None:
                continue
            wanted = {categories[s].pk for s in entry.get("data_categories") or []}
            if set(system.data_categories.values_list("pk", flat=True)) != wanted:
                system.data_categories.set(wanted)
            _import_tables(system, entry.get("tables") or [], categories, report, problems, actor, prune)
            _import_reviewed(system, entry.get("reviewed_tables") or [], report, problems, actor, prune)
        if problems:
            transaction.set_rollback(True)
    if problems:
        raise DataMapFileError(problems)
    return report


def _import_tables(system, tables, categories, report, problems, actor: User | None, prune) -> None:
    existing = {t.table_name: t for t in system.tables.all()}
    saved: dict[str, MappedTable] = {}
    for entry in _parents_first(tables):
        name = _text(entry["name"])
        where = f"{system.slug}.{name}"
        parent = saved.get(entry.get("parent") or "")
        if entry.get("parent") and parent is None:
            problems.append(f"{where}: its parent {entry['parent']!r} could not be imported.")
            continue
        table = existing.get(name) or MappedTable(system=system, table_name=name)
        table = _save_if_changed(
            table,
            {
                "description": _text(entry.get("description")),
                "primary_key": _key_in(entry.get("primary_key")) or _introspected_key(system, name),
                "subject_column": _text(entry.get("subject_column")),
                "subject_key": _text(entry.get("subject_key")),
                "parent": parent,
                "parent_column": _text(entry.get("parent_column")),
                "restriction_flag_column": _text(entry.get("restriction_flag_column")),
                "account_email_column": _text(entry.get("account_email_column")),
                "data_source": _text(entry.get("source")),
                "data_source_party": _text(entry.get("source_party")),
            },
            report,
            where,
            problems,
            actor,
        )
        if table is None:
            continue
        saved[name] = table
        columns = {c.name: c for c in table.columns.all()}
        listed = set()
        for column_entry in entry.get("columns") or []:
            column_name = _text(column_entry["name"])
            listed.add(column_name)
            column = columns.get(column_name) or MappedColumn(table=table, name=column_name)
            category = categories.get(column_entry.get("category") or "")
            _save_if_changed(
                column,
                {
                    "data_category": category,
                    "not_personal": bool(column_entry.get("not_personal", False)),
                    "treatment": column_entry.get("treatment", ColumnTreatment.KEEP),
                    "replacement": _text(column_entry.get("replacement")),
                    "is_timestamp": bool(column_entry.get("timestamp", False)),
                    "data_source": _text(column_entry.get("source")),
                    "data_source_party": _text(column_entry.get("source_party")),
                    "needs_review": bool(column_entry.get("needs_review", False)),
                    "access_withheld": _text(column_entry.get("withheld")),
                    "notes": _text(column_entry.get("notes")),
                },
                report,
                f"{where}.{column_name}",
                problems,
                actor,
            )
        for column_name in sorted(set(columns) - listed):
            if prune:
                columns[column_name].delete()
                report.removed += 1
            else:
                report.not_in_file.append(f"{where}.{column_name}")
    # Restriction through another table: set once every table of the file is saved (it may come later).
    for entry in tables:
        table = saved.get(_text(entry["name"]))
        if table is None:
            continue
        restricted_by = saved.get(_text(entry.get("restricted_by")))
        if entry.get("restricted_by") and restricted_by is None:
            problems.append(f"{system.slug}.{table.table_name}: {entry['restricted_by']!r} could not be imported.")
            continue
        if table.restricted_by_id != (restricted_by.pk if restricted_by else None):
            table.restricted_by = restricted_by
            try:
                table.full_clean()
            except ValidationError as exc:
                problems.extend(f"{system.slug}.{table.table_name}: {message}" for message in _messages(exc))
                continue
            table._history_user = actor
            table.save(update_fields=["restricted_by"])
            report.updated += 1
    for name in sorted(set(existing) - {_text(t["name"]) for t in tables}):
        if not prune:
            report.not_in_file.append(f"{system.slug}.{name}")
            continue
        try:
            with transaction.atomic():
                existing[name].delete()
            report.removed += 1
        except ProtectedError:
            problems.append(f"{system.slug}.{name}: cannot remove it, other records still refer to it.")


def _introspected_key(system: SystemOfRecord, table_name: str) -> str:
    """The table's own primary key when the file names none: its columns joined by commas, "" for a table
    without one (or one the schema cannot find: the table's own error then says so, never a made-up "id")."""
    if system.kind != SystemOfRecord.Kind.SQL:
        return "id"
    try:
        from compliance.connectors.introspection import schema_reader

        return schema_reader(system.database_alias).table(table_name).key_text
    except ConnectorError:
        return ""


def _import_reviewed(system, reviewed, report, problems, actor: User | None, prune) -> None:
    existing = {t.table_name: t for t in system.reviewed_tables.all()}
    listed = set()
    for entry in reviewed:
        name = _text(entry["name"])
        listed.add(name)
        table = existing.get(name) or ReviewedTable(system=system, table_name=name)
        values = {"reason": _text(entry["reason"]).strip(), "needs_review": bool(entry.get("needs_review", False))}
        _save_if_changed(table, values, report, f"{system.slug}.{name}", problems, actor)
    for name in sorted(set(existing) - listed):
        if prune:
            existing[name].delete()
            report.removed += 1
        else:
            report.not_in_file.append(f"{system.slug}.{name} (reviewed)")


def datamap_import_file(path: str | Path, *, actor: User | None = None, prune: bool = False) -> ImportReport:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise DataMapFileError([f"{path}: not valid YAML{where}."]) from None
    return datamap_import(data, actor=actor, prune=prune)


# ------------------------------------------------------------------------------
# Audit against the schema
# ------------------------------------------------------------------------------


def _table_problems(table: MappedTable, schema: SchemaReader) -> list[str]:
    where = f"{table.system.slug}.{table.table_name}"
    problem = table.backoffice_problem()
    if problem:
        return [f"{where}: {problem}"]
    if not schema.has_table(table.table_name):
        return [f"{where}: table does not exist in database alias {schema.alias!r}."]
    info = schema.table(table.table_name)
    problems = []
    for label, column in [
        *(("primary key", name) for name in table.key_columns()),
        ("subject column", table.subject_column),
        ("parent column", table.parent_column),
        ("restriction flag column", table.restriction_flag_column),
        ("account email column", table.account_email_column),
    ]:
        if column and column not in info.columns:
            problems.append(f"{where}: {label} {column!r} does not exist.")
    keys = table.key_columns()
    if keys and set(keys) <= set(info.columns) and not info.is_view and not info.identifies_rows(keys):
        problems.append(f"{where}: primary key {table.primary_key!r} is not the table's primary key or a unique key.")
    try:
        path = table.join_path()
    except RecursionError:  # pragma: no cover - loops are refused on save
        path = [table]
    if table.parent_id and not path[-1].subject_column:
        problems.append(f"{where}: the join path does not reach a table that identifies the subject.")
    mapped = {column.name: column for column in table.columns.all()}
    for name, column in sorted(mapped.items()):
        column_where = f"{where}.{name}"
        if name not in info.columns:
            problems.append(f"{column_where}: column in the map does not exist in the database.")
            continue
        if not column.is_classified:
            problems.append(f"{column_where}: column is not classified (no data category, not marked not personal).")
        elif column.needs_review:
            problems.append(f"{column_where}: column is flagged for review: check its classification, then clear it.")
        problem = column_treatment_problem(info.columns[name], column.treatment, column.replacement)
        if problem:
            problems.append(f"{column_where}: {problem}")
        if column.is_timestamp and not info.columns[name].is_timestamp:
            problems.append(f"{column_where}: marked as a timestamp but is not a date or timestamp column.")
    for name in info.columns:
        if name not in mapped:
            problems.append(f"{where}.{name}: column is not in the data map (unclassified).")
    return problems


def datamap_audit(*, systems=None, tables=None, unmapped_tables: bool = True) -> list[str]:
    """Every problem between the map of active SQL systems and their databases, one line each.

    Given ``tables``, only those are checked. Otherwise each system's database is also searched for
    tables the map neither maps nor lists as reviewed-not-personal (``unmapped_tables``): a forgotten
    table full of emails would otherwise be left out of every bundle and erasure without a word. A
    table mapped or reviewed by another active system on the same database alias counts as covered;
    on the back office's own database, the tables that can never be mapped count as reviewed by design.
    """
    if tables is not None:
        selected = list(tables.select_related("system", "parent").prefetch_related("columns"))
        audited_systems: list[SystemOfRecord] = []
    else:
        systems = systems if systems is not None else SystemOfRecord.objects.all()
        selected = list(
            MappedTable.objects.filter(system__in=systems)
            .select_related("system", "parent")
            .prefetch_related("columns")
            .order_by("system__slug", "table_name")
        )
        audited_systems = list(systems.filter(kind=SystemOfRecord.Kind.SQL, is_active=True).order_by("slug"))
    problems: list[str] = []
    readers: dict[str, SchemaReader | str] = {}

    def reader_for(system: SystemOfRecord) -> SchemaReader | None:
        reader = readers.get(system.slug)
        if reader is None:
            try:
                reader = SchemaReader(system.database_alias)
                reader.table_names()
            except ConnectorError as exc:
                reader = f"{system.slug}: {exc}"
                problems.append(reader)
            readers[system.slug] = reader
        return None if isinstance(reader, str) else reader

    by_system: dict[str, list[str]] = {}
    for table in selected:
        system = table.system
        if system.kind != SystemOfRecord.Kind.SQL or not system.is_active:
            continue
        reader = reader_for(system)
        if reader is None:
            continue
        by_system.setdefault(system.slug, []).extend(_table_problems(table, reader))
    if unmapped_tables:
        for system in audited_systems:
            reader = reader_for(system)
            if reader is None:
                continue
            lines = by_system.setdefault(system.slug, [])
            lines.extend(
                f"{system.slug}.{name}: table is not in the data map: map it, or mark it reviewed as not personal "
                "(run datamap_discover for suggestions)."
                for name in unmapped_table_names(system, reader)
            )
            for reviewed in system.reviewed_tables.all():
                where = f"{system.slug}.{reviewed.table_name}"
                if not reader.has_table(reviewed.table_name):
                    lines.append(f"{where}: reviewed table does not exist in database alias {reader.alias!r}.")
                elif reviewed.needs_review:
                    lines.append(
                        f"{where}: table is flagged for review: confirm it holds no personal data, then clear it."
                    )
    for slug in sorted(by_system):
        problems.extend(sorted(by_system[slug]))
    return problems


def unmapped_table_names(system: SystemOfRecord, reader: SchemaReader | None = None) -> list[str]:
    """The tables of ``system``'s database that no active SQL system on the same alias maps or lists as
    reviewed-not-personal (the back office's never-mappable tables aside), sorted."""
    from compliance.backoffice import backoffice_table_problem

    reader = reader or SchemaReader(system.database_alias)
    same_alias = SystemOfRecord.objects.filter(
        kind=SystemOfRecord.Kind.SQL, is_active=True, database_alias=system.database_alias
    )
    covered = set(MappedTable.objects.filter(system__in=same_alias).values_list("table_name", flat=True))
    covered |= set(ReviewedTable.objects.filter(system__in=same_alias).values_list("table_name", flat=True))
    return sorted(
        name
        # Views only show rows of tables, which are audited themselves: a view is mapped only to export through it.
        for name in reader.table_names(views=False)
        if name not in covered and not backoffice_table_problem(system.database_alias, name)
    )


def mapped_table_import_columns(*, table: MappedTable, actor: User | None = None) -> list[str]:
    """Add the table's database columns the map lacks, unclassified and flagged for review.

    Timestamp columns are marked as such. Returns the names added.
    """
    if table.system.kind != SystemOfRecord.Kind.SQL:
        raise ValidationError(f"{table}: only SQL systems have a schema to import from.")
    problem = table.backoffice_problem()
    if problem:
        raise ValidationError(f"{table}: {problem}")
    try:
        info = SchemaReader(table.system.database_alias).table(table.table_name)
    except ConnectorError as exc:
        raise ValidationError(str(exc)) from None
    added = []
    with transaction.atomic():
        known = set(table.columns.values_list("name", flat=True))
        for name, column in info.columns.items():
            if name in known:
                continue
            new = MappedColumn(
                table=table,
                name=name,
                treatment=ColumnTreatment.KEEP,
                is_timestamp=column.is_timestamp,
                needs_review=True,
            )
            set_history_actor(new, actor)
            new.save()
            added.append(name)
    return added
