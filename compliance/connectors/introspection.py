"""What a system of record's database really contains, read through Django's introspection.

The data map names tables and columns as text typed by people or imported from
YAML. Nothing reaches SQL until it has been found here: an identifier that is
not an existing table or column of the alias is refused, whatever its quoting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import DatabaseError, connections

from compliance.backoffice import backoffice_table_problem
from compliance.connectors.base import ConnectorError

# Columns that hold free text: they can take a hash, a marker or a fixed string, and may start with
# a spreadsheet formula. (uuid and inet columns are not among them: PostgreSQL would refuse the text.)
TEXT_TYPES = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}
TIMESTAMP_TYPES = {"DateTimeField", "DateField"}
INTEGER_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}
BOOLEAN_TYPES = {"BooleanField", "NullBooleanField"}


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    field_type: str  # Django's name for the column type, e.g. "CharField"
    nullable: bool
    max_length: int | None  # characters, for bounded text columns

    @property
    def is_text(self) -> bool:
        return self.field_type in TEXT_TYPES

    @property
    def is_timestamp(self) -> bool:
        return self.field_type in TIMESTAMP_TYPES

    @property
    def is_integer(self) -> bool:
        return self.field_type in INTEGER_TYPES

    @property
    def is_boolean(self) -> bool:
        return self.field_type in BOOLEAN_TYPES

    @property
    def is_json(self) -> bool:
        return self.field_type == "JSONField"


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo]  # in the database's column order
    primary_key: str | None
    # Column sets that identify a row: the primary key and each unique constraint.
    unique_keys: tuple[tuple[str, ...], ...] = ()
    # Foreign keys: column -> (referenced table, referenced column).
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    primary_key_columns: tuple[str, ...] = ()

    def is_unique_key(self, column: str) -> bool:
        """``column`` alone identifies a row (it is the primary key or has a unique constraint)."""
        return (column,) in self.unique_keys


_DECLARED_LENGTH = re.compile(r"\(\s*(\d+)\s*\)")


def sqlite_affinity(declared: str) -> tuple[str, int | None]:
    """Django's name for a SQLite column declared with another tool's type, and its length if bounded.

    SQLite accepts any declared type and gives it an affinity by the rules of its documentation (§3.1
    of "Datatypes In SQLite"): a type containing INT is an integer, CHAR/CLOB/TEXT text, BLOB binary,
    REAL/FLOA/DOUB a float, anything else numeric. Date and time names (TIMESTAMP, DATETIME, DATE),
    BOOLEAN and JSON are read as what other tools (and PostgreSQL) mean by them, so the same map is
    accepted or refused the same way on both backends: ``NVARCHAR(60)`` holds 60 characters, a
    ``TIMESTAMP`` can be a retention timestamp.
    """
    upper = declared.upper()
    base = upper.split("(", 1)[0].strip()
    length = _DECLARED_LENGTH.search(upper)
    if base in {"TIMESTAMP", "DATETIME", "TIMESTAMPTZ"} or base.startswith("TIMESTAMP"):
        return "DateTimeField", None
    if base == "DATE":
        return "DateField", None
    if base in {"BOOL", "BOOLEAN"}:
        return "BooleanField", None
    if base in {"JSON", "JSONB"}:
        return "JSONField", None
    if "INT" in base:
        return "BigIntegerField", None
    if "CHAR" in base:
        return "CharField", int(length.group(1)) if length else None
    if "CLOB" in base or "TEXT" in base:
        return "TextField", None
    if "BLOB" in base or not base:
        return "BinaryField", None
    if any(part in base for part in ("REAL", "FLOA", "DOUB")):
        return "FloatField", None
    return "DecimalField", None


def _is_safe_identifier(name: str) -> bool:
    # Introspection is the real check; this only keeps quoting characters and
    # control characters from ever being looked up or echoed.
    return bool(name) and len(name) <= 128 and not any(ch in name for ch in "\"'`;\\") and name.isprintable()


class SchemaReader:
    """Reads one alias's tables lazily and remembers them for the life of the object."""

    def __init__(self, alias: str):
        if alias not in connections:
            raise ConnectorError(f"No database alias {alias!r} in settings.")
        self.alias = alias
        self.connection = connections[alias]
        self._tables: set[str] | None = None
        self._described: dict[str, TableInfo] = {}

    def _unreachable(self, exc: Exception) -> ConnectorError:
        return ConnectorError(f"Cannot reach database alias {self.alias!r} ({type(exc).__name__}).")

    def table_names(self) -> set[str]:
        if self._tables is None:
            try:
                with self.connection.cursor() as cursor:
                    self._tables = set(self.connection.introspection.table_names(cursor))
            except DatabaseError as exc:
                raise self._unreachable(exc) from None
        return self._tables

    def has_table(self, name: str) -> bool:
        return _is_safe_identifier(name) and name in self.table_names()

    def table(self, name: str) -> TableInfo:
        """The table's columns; ``ConnectorError`` if no such table exists."""
        if name in self._described:
            return self._described[name]
        problem = backoffice_table_problem(self.alias, name)
        if problem:
            # The last line: whatever the data map says, no SQL is built on these tables.
            raise ConnectorError(problem)
        if not self.has_table(name):
            raise ConnectorError(f"Table {name!r} does not exist in database alias {self.alias!r}.")
        introspection = self.connection.introspection
        try:
            with self.connection.cursor() as cursor:
                description = introspection.get_table_description(cursor, name)
                primary_key = introspection.get_primary_key_column(cursor, name)
                constraints = introspection.get_constraints(cursor, name)
                relations = introspection.get_relations(cursor, name)
        except DatabaseError as exc:
            raise self._unreachable(exc) from None
        columns = {}
        for info in description:
            max_length = None
            try:
                field_type = introspection.get_field_type(info.type_code, info)
            except KeyError:
                if self.connection.vendor == "sqlite":
                    field_type, max_length = sqlite_affinity(str(info.type_code))
                else:
                    field_type = "UnknownField"
            if field_type == "CharField" and info.display_size:
                max_length = info.display_size
            columns[info.name] = ColumnInfo(info.name, field_type, bool(info.null_ok), max_length)
        unique_keys = tuple(
            sorted(
                {
                    tuple(constraint["columns"])
                    for constraint in constraints.values()
                    if (constraint.get("primary_key") or constraint.get("unique")) and constraint.get("columns")
                }
            )
        )
        key_columns = [
            c for constraint in constraints.values() if constraint.get("primary_key") for c in constraint["columns"]
        ]
        if len(key_columns) > 1:
            primary_key = None  # a key of several columns: no single column identifies a row
        foreign_keys = {column: (target, target_column) for column, (target_column, target) in relations.items()}
        table = TableInfo(name, columns, primary_key, unique_keys, foreign_keys, tuple(key_columns))
        self._described[name] = table
        return table

    def references(self, table: str) -> set[str]:
        """The tables ``table`` has foreign keys to (its parents in the database)."""
        self.table(table)
        try:
            with self.connection.cursor() as cursor:
                relations = self.connection.introspection.get_relations(cursor, table)
        except DatabaseError as exc:
            raise self._unreachable(exc) from None
        return {target for _column, target in relations.values()}

    def column(self, table: str, column: str) -> ColumnInfo:
        info = self.table(table)
        if not _is_safe_identifier(column) or column not in info.columns:
            raise ConnectorError(f"Column {column!r} does not exist in table {table!r} of alias {self.alias!r}.")
        return info.columns[column]


_readers: ContextVar[dict[str, SchemaReader] | None] = ContextVar("schema_readers", default=None)


@contextmanager
def schema_cache() -> Iterator[None]:
    """Within this block ``schema_reader`` reads each alias's schema once (e.g. a whole import)."""
    if _readers.get() is not None:
        yield
        return
    token = _readers.set({})
    try:
        yield
    finally:
        _readers.reset(token)


def schema_reader(alias: str) -> SchemaReader:
    """A reader for ``alias``: a fresh one, or the block's shared one inside ``schema_cache``."""
    readers = _readers.get()
    if readers is None:
        return SchemaReader(alias)
    if alias not in readers:
        readers[alias] = SchemaReader(alias)
    return readers[alias]
