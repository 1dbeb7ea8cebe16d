"""What a system of record's database really contains, read through Django's introspection.

The data map names tables and columns as text typed by people or imported from
YAML. Nothing reaches SQL until it has been found here: an identifier that is
not an existing table or column of the alias is refused, whatever its quoting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

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


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo]  # in the database's column order
    primary_key: str | None


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
        except DatabaseError as exc:
            raise self._unreachable(exc) from None
        columns = {}
        for info in description:
            try:
                field_type = introspection.get_field_type(info.type_code, info)
            except KeyError:
                field_type = "TextField" if self.connection.vendor == "sqlite" else "UnknownField"
            max_length = info.display_size if field_type == "CharField" and info.display_size else None
            columns[info.name] = ColumnInfo(info.name, field_type, bool(info.null_ok), max_length)
        table = TableInfo(name, columns, primary_key)
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
