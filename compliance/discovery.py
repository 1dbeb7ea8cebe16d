"""Discovery: what a system's database holds that the data map does not know, and what to do with it.

``datamap_discover`` reads the schema (tables, columns, types, keys, foreign keys) and a bounded sample
of each table (at most ``SAMPLE_ROWS`` rows, one short read-only transaction per table, rolled back) and
suggests, for every unmapped table and every unclassified column, a data category, a subject link and an
erasure treatment. The sampled values are only counted against patterns (email, phone, IP address,
postal code, personal name, payment card number, IBAN, free text) and dropped: no value is stored,
logged or put in a message; the evidence is counts ("412 of 412 sampled values look like email
addresses").

Suggestions are for a person. ``discovery_draft`` writes them as a data map file whose suggested entries
are flagged ``needs_review`` (``datamap_audit`` fails until a person clears each flag);
``mapping_suggestions_refresh`` keeps them as ``MappingSuggestion`` rows that the admin shows with their
evidence and that are accepted one by one (``mapping_suggestion_accept``).

The weekly drift check (``datamap_drift_check``) samples the mapped columns marked not personal and
opens a suggestion for each whose values now look personal.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from compliance.backoffice import backoffice_table_problem
from compliance.connectors.base import ConnectorError
from compliance.connectors.introspection import ColumnInfo, SchemaReader, TableInfo
from compliance.history import set_history_actor
from compliance.models import (
    ColumnTreatment,
    DataCategory,
    MappedColumn,
    MappedTable,
    MappingSuggestion,
    ReviewedTable,
    SystemOfRecord,
    column_treatment_problem,
)

SAMPLE_ROWS = 1000
SAMPLE_TIMEOUT_MS = 5000
# Share of the sampled (non-empty) values that must match a pattern for a suggestion to follow it.
SUGGEST_RATIO = 0.5
# The weekly drift check flags a "not personal" column when this share of its values looks personal.
DRIFT_RATIO = 0.2

# -- patterns --------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_EMAIL_INSIDE = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,22}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$", re.IGNORECASE)
_ZIP_PLUS4 = re.compile(r"^\d{5}-\d{4}$")
_CA_POSTCODE = re.compile(r"^[A-Z]\d[A-Z]\s?\d[A-Z]\d$", re.IGNORECASE)
_SHORT_CODE = re.compile(r"^\d{4,5}$")
_NAME = re.compile(r"^[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*(?: [^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*){1,3}$")
_CARD_CHARS = re.compile(r"^[\d -]{13,23}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")

LABELS = {
    "email": "look like email addresses",
    "email_inside": "contain an email address",
    "phone": "look like phone numbers",
    "ip": "look like IP addresses",
    "postcode": "look like postal codes",
    "name": "look like personal names",
    "card": "look like payment card numbers (Luhn-checked)",
    "iban": "look like IBANs (checksum-checked)",
    "free_text": "look like free text",
}
# The policy's categories (compliance.baseline) each pattern falls under; a team with other categories
# picks one by hand (the evidence says so).
PATTERN_CATEGORIES = {
    "email": "account-identity",
    "email_inside": "account-identity",
    "phone": "account-identity",
    "postcode": "account-identity",
    "name": "account-identity",
    "address": "account-identity",
    "ip": "api-usage",
    "card": "billing-transactions",
    "iban": "billing-transactions",
    "free_text": "content",
}
# What erasure should do, best first; the first the column can take is suggested.
PATTERN_TREATMENTS = {
    "email": ["hash", "redact", "null"],
    "email_inside": ["redact", "null", "fixed"],
    "phone": ["null", "redact"],
    "postcode": ["null", "redact"],
    "name": ["redact", "null"],
    "address": ["redact", "null"],
    "ip": ["null", "redact"],
    "card": ["redact", "null"],
    "iban": ["redact", "null"],
    "free_text": ["redact", "null"],
}
# Words in a column's name that say what it holds (names are split on case and underscores).
NAME_HINTS = {
    "email": {"email", "mail", "emailaddress"},
    "phone": {"phone", "mobile", "tel", "telephone", "msisdn", "cell"},
    "ip": {"ip", "ipaddress", "ipv4", "ipv6"},
    "postcode": {"zip", "zipcode", "postcode", "postal", "postalcode"},
    "name": {"firstname", "lastname", "fullname", "givenname", "familyname", "surname", "forename", "displayname"},
    "address": {"address", "street", "addressline"},
    "card": {"card", "cardnumber", "pan"},
    "iban": {"iban"},
    "free_text": {"note", "notes", "comment", "comments", "body", "message", "text", "content", "description"},
}
_NAME_PREFIXES = {"first", "last", "full", "given", "family", "display", "contact", "billing", "customer", "person"}


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    moved = text[4:] + text[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def name_words(name: str) -> list[str]:
    """A column name's words, lower case: ``CustomerEmail`` and ``customer_email`` give the same."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def name_hints(name: str) -> set[str]:
    """The patterns a column's name points at."""
    words = name_words(name)
    joined = "".join(words)
    hints = set()
    for pattern, hint_words in NAME_HINTS.items():
        if joined in hint_words or any(w in hint_words for w in words):
            hints.add(pattern)
    if len(words) > 1 and words[-1] == "name" and words[-2] in _NAME_PREFIXES:
        hints.add("name")
    if "email" in hints and "address" in hints:
        hints.discard("address")
    if "ip" in hints and "address" in hints:
        hints.discard("address")
    return hints


def value_patterns(value: Any, *, postal_hint: bool = False) -> set[str]:
    """The patterns one value matches (nothing of the value is kept)."""
    if value is None:
        return set()
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return {"email_inside"} if _EMAIL_INSIDE.search(text) else set()
    if isinstance(value, bool | int | float):
        return set()
    if isinstance(value, bytes | memoryview):
        return set()
    text = str(value).strip()
    if not text:
        return set()
    found: set[str] = set()
    if _EMAIL.match(text):
        return {"email"}
    try:
        ipaddress.ip_address(text.split("/", 1)[0])
    except ValueError:
        pass
    else:
        return {"ip"}
    compact = text.replace(" ", "").replace("-", "")
    if _CARD_CHARS.match(text) and compact.isdigit() and 13 <= len(compact) <= 19 and _luhn(compact):
        return {"card"}
    upper = text.replace(" ", "").upper()
    if _IBAN.match(upper) and _iban_valid(upper):
        return {"iban"}
    if (
        _UK_POSTCODE.match(text)
        or _ZIP_PLUS4.match(text)
        or _CA_POSTCODE.match(text)
        or postal_hint
        and _SHORT_CODE.match(text)
    ):
        found.add("postcode")
    digits = sum(ch.isdigit() for ch in text)
    if (
        not found
        and _PHONE.match(text)
        and 7 <= digits <= 15
        and not _DATE_LIKE.match(text)
        and (text.startswith(("+", "(", "0")) or any(sep in text for sep in " -."))
    ):
        found.add("phone")
    if _NAME.match(text) and len(text) <= 80:
        found.add("name")
    if len(text) >= 40 and len(text.split()) >= 6:
        found.add("free_text")
    if "free_text" not in found and _EMAIL_INSIDE.search(text):
        found.add("email_inside")
    return found


@dataclass
class ColumnEvidence:
    """Counts only: how many sampled values matched each pattern."""

    sampled: int = 0
    non_empty: int = 0
    matches: dict[str, int] = field(default_factory=dict)

    def add(self, value: Any, *, postal_hint: bool) -> None:
        self.sampled += 1
        if value is None or (isinstance(value, str) and not value.strip()):
            return
        self.non_empty += 1
        for pattern in value_patterns(value, postal_hint=postal_hint):
            self.matches[pattern] = self.matches.get(pattern, 0) + 1

    def best(self, ratio: float) -> str | None:
        """The pattern most values match, if at least ``ratio`` of the non-empty values do."""
        if not self.non_empty or not self.matches:
            return None
        pattern, count = max(self.matches.items(), key=lambda item: (item[1], item[0] != "name"))
        return pattern if count / self.non_empty >= ratio else None

    def sentence(self, pattern: str) -> str:
        return f"{self.matches.get(pattern, 0)} of {self.non_empty} sampled values {LABELS[pattern]}"


# -- sampling ------------------------------------------------------------------------------------------


def sample_columns(reader: SchemaReader, table: TableInfo, columns: list[str], *, limit: int = SAMPLE_ROWS):
    """Count pattern matches in up to ``limit`` rows of ``columns``: one short read-only transaction,
    rolled back; values are counted and dropped. Returns {column: ColumnEvidence}."""
    connection = connections[reader.alias]
    qn = connection.ops.quote_name
    for column in columns:
        reader.column(table.name, column)  # names come from introspection; refuse anything else
    evidence = {column: ColumnEvidence() for column in columns}
    if not columns:
        return evidence
    hints = {column: "postcode" in name_hints(column) for column in columns}
    sql = f"SELECT {', '.join(qn(c) for c in columns)} FROM {reader.quoted(table.name)} LIMIT %s"  # noqa: S608 (introspected names)
    try:
        with transaction.atomic(using=reader.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {int(SAMPLE_TIMEOUT_MS)}")
            cursor.execute(sql, [int(limit)])
            while True:
                rows = cursor.fetchmany(200)
                if not rows:
                    break
                for row in rows:
                    for column, value in zip(columns, row, strict=True):
                        evidence[column].add(value, postal_hint=hints[column])
            transaction.set_rollback(True, using=reader.alias)
    except DatabaseError as exc:
        raise ConnectorError(
            f"Cannot sample table {table.name!r} of alias {reader.alias!r} ({type(exc).__name__})."
        ) from None
    return evidence


# -- suggestions ---------------------------------------------------------------------------------------


@dataclass
class ColumnSuggestion:
    table: str
    column: str
    category: str = ""  # a DataCategory slug, or "" with not_personal
    not_personal: bool = False
    treatment: str = ColumnTreatment.KEEP
    replacement: str = ""
    is_timestamp: bool = False
    evidence: str = ""
    drift: bool = False


@dataclass
class TableSuggestion:
    table: str
    reviewed: bool = False  # nothing personal found: mark it reviewed as not personal
    primary_key: str = ""
    subject_column: str = ""
    subject_key: str = ""
    parent: str = ""
    parent_column: str = ""
    account_email_column: str = ""
    evidence: str = ""


@dataclass
class Discovery:
    system: SystemOfRecord
    tables: list[TableSuggestion] = field(default_factory=list)
    columns: list[ColumnSuggestion] = field(default_factory=list)

    def table(self, name: str) -> TableSuggestion | None:
        return next((t for t in self.tables if t.table == name), None)

    def column(self, table: str, column: str) -> ColumnSuggestion | None:
        return next((c for c in self.columns if c.table == table and c.column == column), None)


def _choose_treatment(info: ColumnInfo, preferences: list[str]) -> tuple[str, str]:
    for treatment in [*preferences, "null", "redact", "delete_row"]:
        replacement = ""
        if treatment == "fixed":
            replacement = "{}" if info.is_json else "erased"
        if column_treatment_problem(info, treatment, replacement) is None:
            return treatment, replacement
    return ColumnTreatment.DELETE_ROW, ""


def _classify(table: TableInfo, info: ColumnInfo, evidence: ColumnEvidence | None, categories: set[str]):
    """(pattern or None, sentence) for one column."""
    hints = name_hints(info.name)
    found = evidence.best(SUGGEST_RATIO) if evidence else None
    if found == "name" and "name" not in hints:
        found = None  # capitalised words (a product, a city) are names only when the column says so
    if found == "free_text" and evidence and not evidence.non_empty:
        found = None
    parts = []
    if evidence is not None:
        if evidence.non_empty:
            shown = found or (max(evidence.matches, key=evidence.matches.get) if evidence.matches else None)
            if shown:
                parts.append(evidence.sentence(shown))
            else:
                parts.append(f"none of {evidence.non_empty} sampled values matches a personal-data pattern")
        else:
            parts.append(f"no values in {evidence.sampled} sampled rows")
    if found is None:
        hinted = sorted(hints - {"free_text"}) or sorted(hints)
        if hinted and (info.is_text or info.is_json or hinted[0] == "ip"):
            found = hinted[0]
            parts.append(f"the name suggests {LABELS.get(found, 'a postal address').split(' ', 2)[-1]}")
    elif found in hints:
        parts.append("and so does its name")
    return found, "; ".join(parts)


def discover(system: SystemOfRecord, *, limit: int = SAMPLE_ROWS) -> Discovery:
    """Suggestions for every unmapped table and every unclassified column of ``system`` (a SQL system).

    Reads only: the schema, and at most ``limit`` rows per table in one read-only transaction each.
    """
    if system.kind != SystemOfRecord.Kind.SQL:
        raise ConnectorError(f"System {system.slug!r} is not a SQL system: it has no schema to discover.")
    reader = SchemaReader(system.database_alias)
    alias = system.database_alias
    categories = set(DataCategory.objects.values_list("slug", flat=True))
    mapped = {t.table_name: t for t in system.tables.prefetch_related("columns")}
    reviewed = set(system.reviewed_tables.values_list("table_name", flat=True))
    others = SystemOfRecord.objects.filter(kind=SystemOfRecord.Kind.SQL, is_active=True, database_alias=alias)
    covered_elsewhere = set(
        MappedTable.objects.filter(system__in=others.exclude(pk=system.pk)).values_list("table_name", flat=True)
    ) | set(ReviewedTable.objects.filter(system__in=others.exclude(pk=system.pk)).values_list("table_name", flat=True))
    names = sorted(
        n
        for n in reader.table_names()
        if not backoffice_table_problem(alias, n)
        and n not in reviewed
        and n not in covered_elsewhere
        # A view only shows rows of tables discovered themselves; a mapped one still gets its columns judged.
        and (n in mapped or not reader.is_view(n))
    )
    infos = {name: reader.table(name) for name in names}
    discovery = Discovery(system=system)

    # What to look at: every column of an unmapped table, and unclassified or missing columns of a mapped one.
    todo: dict[str, list[str]] = {}
    for name, info in infos.items():
        if name not in mapped:
            todo[name] = list(info.columns)
        else:
            known = {c.name: c for c in mapped[name].columns.all()}
            todo[name] = [c for c in info.columns if c not in known or not known[c].is_classified]
    evidence: dict[str, dict[str, ColumnEvidence]] = {}
    for name, columns in todo.items():
        sampled = [c for c in columns if not infos[name].columns[c].is_timestamp]
        evidence[name] = sample_columns(reader, infos[name], sampled, limit=limit) if sampled else {}
    # Unmapped tables also need their email columns judged, to find the subject.
    patterns: dict[str, dict[str, str | None]] = {}
    sentences: dict[str, dict[str, str]] = {}
    for name, columns in todo.items():
        patterns[name], sentences[name] = {}, {}
        for column in columns:
            found, sentence = _classify(
                infos[name], infos[name].columns[column], evidence[name].get(column), categories
            )
            patterns[name][column], sentences[name][column] = found, sentence

    def email_column(name: str) -> str | None:
        if name in mapped and mapped[name].account_email_column:
            return mapped[name].account_email_column
        for column in infos[name].columns:
            if patterns.get(name, {}).get(column) == "email":
                return column
        return None

    account = _account_table(system, mapped, infos, email_column)
    graph = {name: _foreign_keys(info, infos) for name, info in infos.items()}

    for name in sorted(n for n in infos if n not in mapped):
        info = infos[name]
        suggestion = TableSuggestion(table=name)
        reasons = []
        if info.primary_key_columns:
            suggestion.primary_key = info.key_text
            if len(info.primary_key_columns) > 1:
                reasons.append(f"its primary key has several columns ({', '.join(info.primary_key_columns)})")
        else:
            reasons.append("it has no primary key: it is located, exported and erased by its subject, not swept")
        link = _subject_link(name, account, graph, mapped, email_column)
        if link is not None:
            suggestion.subject_column, suggestion.subject_key = link["subject_column"], link["subject_key"]
            suggestion.parent, suggestion.parent_column = link["parent"], link["parent_column"]
            suggestion.account_email_column = link.get("account_email_column", "")
            reasons.insert(0, link["why"])
        personal = [c for c in info.columns if patterns[name].get(c)]
        if link is None and not personal:
            suggestion.reviewed = True
            reasons.insert(0, f"no column looks personal ({len(info.columns)} columns checked)")
        elif link is None:
            reasons.insert(0, "no column identifies the subject: link it by hand (a subject column or a parent)")
        suggestion.evidence = "; ".join(reasons)
        discovery.tables.append(suggestion)

    for name, columns in todo.items():
        table_suggestion = discovery.table(name)
        if table_suggestion is not None and table_suggestion.reviewed:
            continue
        info = infos[name]
        link_columns = set()
        subject_column = table_suggestion.subject_column if table_suggestion else mapped[name].subject_column
        subject_key = table_suggestion.subject_key if table_suggestion else mapped[name].subject_key
        parent_column = table_suggestion.parent_column if table_suggestion else mapped[name].parent_column
        link_columns = {subject_column, parent_column} - {""}
        for column in columns:
            column_info = info.columns[column]
            found = patterns[name].get(column)
            sentence = sentences[name].get(column, "")
            suggestion = ColumnSuggestion(table=name, column=column, evidence=sentence)
            if column_info.is_timestamp:
                suggestion.not_personal, suggestion.is_timestamp = True, True
                suggestion.evidence = "a date or timestamp column: not personal on its own; retention can count from it"
            elif column == subject_column and subject_key == MappedTable.SubjectKey.EMAIL:
                suggestion.category = PATTERN_CATEGORIES["email"]
                suggestion.treatment = ColumnTreatment.DELETE_ROW
                suggestion.evidence = f"{sentence}; it identifies the subject, so erasure deletes the row"
            elif column == subject_column or (account and name == account[0] and column == account[1]):
                suggestion.category = PATTERN_CATEGORIES["email"]
                suggestion.evidence = "it holds the account key that identifies the subject"
            elif column in link_columns or column == info.primary_key:
                suggestion.not_personal = True
                suggestion.evidence = (
                    "the table's primary key" if column == info.primary_key else "a key joining to the subject's table"
                )
            elif found:
                suggestion.category = PATTERN_CATEGORIES.get(found, "")
                suggestion.treatment, suggestion.replacement = _choose_treatment(
                    column_info, PATTERN_TREATMENTS.get(found, ["redact", "null"])
                )
            else:
                suggestion.not_personal = True
            if suggestion.category and suggestion.category not in categories:
                suggestion.evidence += f" (no data category {suggestion.category!r} here: choose one)"
                suggestion.category = ""
            discovery.columns.append(suggestion)
    return discovery


def _foreign_keys(info: TableInfo, infos: dict[str, TableInfo]) -> list[tuple[str, str, str]]:
    """(column, target table, target column) of each foreign key to a table discovery can see."""
    out = []
    for column, (target, target_column) in sorted(info.foreign_keys.items()):
        if target not in infos:
            continue
        target_column = target_column or infos[target].primary_key or ""
        out.append((column, target, target_column))
    return out


def _account_table(system, mapped, infos, email_column) -> tuple[str, str, str] | None:
    """(table, key column, email column) of the subjects' accounts: the map's, or the table with an email
    column whose key most other tables point at."""
    existing = MappedTable.objects.filter(system=system, subject_key=MappedTable.SubjectKey.ACCOUNT_ID).exclude(
        account_email_column=""
    )
    table = existing.first()
    if table is not None:
        return table.table_name, table.subject_column, table.account_email_column
    incoming: dict[str, int] = {}
    for info in infos.values():
        for _column, (target, _target_column) in info.foreign_keys.items():
            incoming[target] = incoming.get(target, 0) + 1
    candidates = [
        (incoming.get(name, 0), name)
        for name, info in infos.items()
        if info.primary_key and email_column(name) and incoming.get(name, 0)
    ]
    if not candidates:
        return None
    _count, name = max(candidates)
    return name, infos[name].primary_key, email_column(name)


def _subject_link(name, account, graph, mapped, email_column) -> dict[str, str] | None:
    """How rows of ``name`` belong to a subject: the shortest foreign-key path to the account table (or to
    a mapped table that identifies the subject), else an email column."""
    if account and name == account[0]:
        return {
            "subject_column": account[1],
            "subject_key": MappedTable.SubjectKey.ACCOUNT_ID,
            "parent": "",
            "parent_column": "",
            "account_email_column": account[2],
            "why": f"the account table: other tables point at its key {account[1]!r} and {account[2]!r} holds "
            "the account's email",
        }
    targets = {account[0]} if account else set()
    targets |= {t for t, m in mapped.items() if m.subject_column or m.parent_id}
    queue: deque[tuple[str, list[tuple[str, str, str, str]]]] = deque([(name, [])])
    seen = {name}
    while queue:
        current, path = queue.popleft()
        for column, target, target_column in graph.get(current, []):
            if target in seen:
                continue
            step = [*path, (current, column, target, target_column)]
            if target in targets:
                first_table, first_column, first_target, first_target_column = step[0]
                chain = " → ".join([name, *[s[2] for s in step]])
                if len(step) == 1 and account and first_target == account[0] and first_target_column == account[1]:
                    return {
                        "subject_column": first_column,
                        "subject_key": MappedTable.SubjectKey.ACCOUNT_ID,
                        "parent": "",
                        "parent_column": "",
                        "why": f"{first_column!r} is a foreign key to the account table's key ({chain})",
                    }
                return {
                    "subject_column": "",
                    "subject_key": "",
                    "parent": first_target,
                    "parent_column": first_column,
                    "why": f"a foreign-key path reaches the subject: {chain}",
                }
            seen.add(target)
            queue.append((target, step))
    email = email_column(name)
    if email:
        return {
            "subject_column": email,
            "subject_key": MappedTable.SubjectKey.EMAIL,
            "parent": "",
            "parent_column": "",
            "why": f"{email!r} holds email addresses: the subject is found by email",
        }
    return None


# -- the draft file --------------------------------------------------------------------------------------


DRAFT_HEADER = (
    "# DRAFT data map written by manage.py datamap_discover: suggestions for a person to review.\n"
    "# Nothing here is in the data map until someone imports it (manage.py import_datamap).\n"
    "# Each suggested entry has needs_review: true and its evidence in notes (counts only, never values):\n"
    "# check the category, the treatment and the subject link, then remove needs_review. datamap_audit\n"
    "# fails while any flag is left.\n"
)


def discovery_draft(discovery: Discovery) -> str:
    """The system's current map with every suggestion added, flagged for review, as YAML text."""
    from compliance.datamap import datamap_export

    data = datamap_export(systems=SystemOfRecord.objects.filter(pk=discovery.system.pk))
    entry = data["systems"][0]
    tables = entry.setdefault("tables", [])
    by_name = {t["name"]: t for t in tables}
    for suggestion in discovery.tables:
        if suggestion.reviewed:
            entry.setdefault("reviewed_tables", []).append(
                {"name": suggestion.table, "reason": f"Suggested: {suggestion.evidence}"[:255], "needs_review": True}
            )
            continue
        table = {"name": suggestion.table, "description": f"Suggested by datamap_discover: {suggestion.evidence}"}
        key = suggestion.primary_key.split(",") if "," in suggestion.primary_key else suggestion.primary_key
        table["primary_key"] = key
        for key in ("subject_column", "subject_key", "parent", "parent_column", "account_email_column"):
            if getattr(suggestion, key):
                table[key] = str(getattr(suggestion, key))
        table["columns"] = []
        tables.append(table)
        by_name[suggestion.table] = table
    for column in discovery.columns:
        table = by_name.get(column.table)
        if table is None:
            continue
        values: dict[str, Any] = {"name": column.column}
        if column.category:
            values["category"] = column.category
        if column.not_personal:
            values["not_personal"] = True
        values["treatment"] = str(column.treatment)
        if column.replacement:
            values["replacement"] = column.replacement
        if column.is_timestamp:
            values["timestamp"] = True
        values["needs_review"] = True
        values["notes"] = column.evidence[:255]
        table.setdefault("columns", [])
        table["columns"] = [c for c in table["columns"] if c["name"] != column.column] + [values]
    return DRAFT_HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# -- suggestions in the admin --------------------------------------------------------------------------


def mapping_suggestions_refresh(
    *, system_id: int, actor: User | None, limit: int = SAMPLE_ROWS
) -> list[MappingSuggestion]:
    """Run discovery on the system and keep its suggestions for the admin: an open suggestion of the same
    table or column is refreshed (never a second one); open suggestions that no longer apply are dismissed."""
    system = SystemOfRecord.objects.get(pk=system_id)
    discovery = discover(system, limit=limit)
    categories = {c.slug: c for c in DataCategory.objects.all()}
    wanted: dict[tuple[str, str, str], dict[str, Any]] = {}
    for table in discovery.tables:
        kind = MappingSuggestion.Kind.REVIEWED if table.reviewed else MappingSuggestion.Kind.TABLE
        wanted[(kind, table.table, "")] = {
            "primary_key": table.primary_key,
            "subject_column": table.subject_column,
            "subject_key": table.subject_key,
            "parent_table": table.parent,
            "parent_column": table.parent_column,
            "account_email_column": table.account_email_column,
            "evidence": table.evidence,
        }
    for column in discovery.columns:
        wanted[(MappingSuggestion.Kind.COLUMN, column.table, column.column)] = {
            "data_category": categories.get(column.category),
            "not_personal": column.not_personal,
            "treatment": column.treatment,
            "replacement": column.replacement,
            "is_timestamp": column.is_timestamp,
            "evidence": column.evidence,
        }
    saved = []
    now = timezone.now()
    with transaction.atomic():
        open_ones = {
            (s.kind, s.table_name, s.column_name): s
            for s in MappingSuggestion.objects.select_for_update()
            .filter(system=system, status=MappingSuggestion.Status.OPEN)
            .exclude(kind=MappingSuggestion.Kind.DRIFT)
        }
        for key, values in wanted.items():
            suggestion = open_ones.pop(key, None) or MappingSuggestion(
                system=system, kind=key[0], table_name=key[1], column_name=key[2]
            )
            for name, value in values.items():
                setattr(suggestion, name, value)
            set_history_actor(suggestion, actor)
            suggestion.save()
            saved.append(suggestion)
        for stale in open_ones.values():
            stale.status, stale.decided_at, stale.decided_by = MappingSuggestion.Status.DISMISSED, now, actor
            stale.evidence = f"{stale.evidence} (no longer applies: discovery found nothing to suggest)"
            set_history_actor(stale, actor)
            stale.save()
    return saved


def _decide(suggestion: MappingSuggestion, status: str, actor: User | None) -> None:
    suggestion.status, suggestion.decided_at, suggestion.decided_by = status, timezone.now(), actor
    set_history_actor(suggestion, actor)
    suggestion.save()


def _save_checked(obj, actor: User | None) -> None:
    obj.full_clean()
    set_history_actor(obj, actor)
    obj.save()


def mapping_suggestion_accept(*, suggestion_id: int, actor: User | None) -> MappingSuggestion:
    """Put one open suggestion into the data map, as if typed in the admin (validated against the schema).

    A table is mapped before its columns and a parent before its children: a suggestion that needs one
    not yet in the map is refused saying which to accept first. ``ValidationError`` on refusal; nothing
    changes then.
    """
    with transaction.atomic():
        suggestion = MappingSuggestion.objects.select_for_update().select_related("system").get(pk=suggestion_id)
        if suggestion.status != MappingSuggestion.Status.OPEN:
            raise ValidationError(f"{suggestion}: already {suggestion.get_status_display().lower()}.")
        system = suggestion.system
        if suggestion.kind == MappingSuggestion.Kind.REVIEWED:
            reviewed = ReviewedTable(
                system=system, table_name=suggestion.table_name, reason=f"Reviewed: {suggestion.evidence}"[:255]
            )
            _save_checked(reviewed, actor)
        elif suggestion.kind == MappingSuggestion.Kind.TABLE:
            parent = None
            if suggestion.parent_table:
                parent = system.tables.filter(table_name=suggestion.parent_table).first()
                if parent is None:
                    raise ValidationError(
                        f"{suggestion}: accept the suggestion for its parent table {suggestion.parent_table!r} first."
                    )
            table = MappedTable(
                system=system,
                table_name=suggestion.table_name,
                description=f"Accepted from discovery: {suggestion.evidence}",
                primary_key=suggestion.primary_key,
                subject_column=suggestion.subject_column,
                subject_key=suggestion.subject_key,
                parent=parent,
                parent_column=suggestion.parent_column,
                account_email_column=suggestion.account_email_column,
            )
            _save_checked(table, actor)
        else:
            table = system.tables.filter(table_name=suggestion.table_name).first()
            if table is None:
                raise ValidationError(
                    f"{suggestion}: map the table {suggestion.table_name!r} first (accept its suggestion)."
                )
            column = table.columns.filter(name=suggestion.column_name).first() or MappedColumn(
                table=table, name=suggestion.column_name
            )
            column.data_category = suggestion.data_category
            column.not_personal = suggestion.not_personal
            column.treatment = suggestion.treatment or ColumnTreatment.KEEP
            column.replacement = suggestion.replacement
            column.is_timestamp = column.is_timestamp or suggestion.is_timestamp
            column.needs_review = False
            column.notes = f"Accepted from discovery: {suggestion.evidence}"[:255]
            _save_checked(column, actor)
        _decide(suggestion, MappingSuggestion.Status.ACCEPTED, actor)
    return suggestion


def mapping_suggestion_dismiss(*, suggestion_id: int, actor: User | None) -> MappingSuggestion:
    """Close an open suggestion without changing the map."""
    with transaction.atomic():
        suggestion = MappingSuggestion.objects.select_for_update().get(pk=suggestion_id)
        if suggestion.status != MappingSuggestion.Status.OPEN:
            raise ValidationError(f"{suggestion}: already {suggestion.get_status_display().lower()}.")
        _decide(suggestion, MappingSuggestion.Status.DISMISSED, actor)
    return suggestion


# -- drift -----------------------------------------------------------------------------------------------


def datamap_drift_check(*, limit: int = SAMPLE_ROWS, actor: User | None = None) -> list[MappingSuggestion]:
    """Sample every mapped column marked not personal (active SQL systems) and open a drift suggestion for
    each whose values now look personal; the dashboard and the officers' digest show the open ones.
    An open drift suggestion of the same column is refreshed, not repeated. Returns the open drift."""
    flagged = []
    columns = (
        MappedColumn.objects.filter(
            not_personal=True,
            table__system__kind=SystemOfRecord.Kind.SQL,
            table__system__is_active=True,
        )
        .select_related("table__system")
        .order_by("table__system__slug", "table__table_name", "name")
    )
    by_table: dict[int, list[MappedColumn]] = {}
    for column in columns:
        by_table.setdefault(column.table_id, []).append(column)
    categories = {c.slug: c for c in DataCategory.objects.all()}
    for table_columns in by_table.values():
        table = table_columns[0].table
        system = table.system
        try:
            reader = SchemaReader(system.database_alias)
            info = reader.table(table.table_name)
            names = [c.name for c in table_columns if c.name in info.columns and not info.columns[c.name].is_timestamp]
            evidence = sample_columns(reader, info, names, limit=limit)
        except ConnectorError:
            continue  # an unreachable system is the audit's and the connectors' to report
        for column in table_columns:
            found = evidence.get(column.name)
            pattern = found.best(DRIFT_RATIO) if found else None
            if pattern is None or pattern in {"name", "free_text"}:
                continue  # capitalised words and sentences are too common in codes and labels to alarm on
            treatment, replacement = _choose_treatment(info.columns[column.name], PATTERN_TREATMENTS[pattern])
            with transaction.atomic():
                suggestion, _created = MappingSuggestion.objects.select_for_update().get_or_create(
                    system=system,
                    kind=MappingSuggestion.Kind.DRIFT,
                    table_name=table.table_name,
                    column_name=column.name,
                    status=MappingSuggestion.Status.OPEN,
                    defaults={"evidence": ""},
                )
                suggestion.evidence = f"marked not personal, but {found.sentence(pattern)}"
                suggestion.data_category = categories.get(PATTERN_CATEGORIES.get(pattern, ""))
                suggestion.not_personal = False
                suggestion.treatment, suggestion.replacement = treatment, replacement
                set_history_actor(suggestion, actor)
                suggestion.save()
            flagged.append(suggestion)
    return flagged


def open_drift() -> list[MappingSuggestion]:
    return list(
        MappingSuggestion.objects.filter(kind=MappingSuggestion.Kind.DRIFT, status=MappingSuggestion.Status.OPEN)
        .select_related("system")
        .order_by("system__slug", "table_name", "column_name")
    )


def drift_digest_lines() -> list[str]:
    """The officers' digest section (``DIGEST_SECTIONS``): one line per column that drifted."""
    return [
        f"Data map: {s.system.slug}.{s.table_name}.{s.column_name} is {s.evidence}; review its suggestion"
        for s in open_drift()
    ]
