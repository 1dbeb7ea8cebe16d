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
from django.db.backends.utils import CursorWrapper

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
    # A view: read through like a table (locate, export), never written (erasure, sweeps).
    is_view: bool = False

    def is_unique_key(self, column: str) -> bool:
        """``column`` alone identifies a row (it is the primary key or has a unique constraint)."""
        return (column,) in self.unique_keys

    def identifies_rows(self, columns: list[str] | tuple[str, ...]) -> bool:
        """``columns`` together identify a row: they include the primary key or a unique constraint's columns."""
        wanted = set(columns)
        return bool(wanted) and any(set(key) <= wanted for key in self.unique_keys)

    @property
    def key_text(self) -> str:
        """The table's own primary key as the data map writes it: its columns joined by commas ("" if none)."""
        return ",".join(self.primary_key_columns)


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


@dataclass(frozen=True)
class _Relation:
    """Where a name of the map lives: its schema (None: on the search path) and whether it is a view."""

    schema: str | None
    name: str
    is_view: bool


# Every relation PostgreSQL can read rows from, in every schema but its own catalogues: tables (also
# partitioned and foreign ones), views and materialised views. A relation on the search path is named as
# Django names it ("Customer"); one in another schema by its schema too ("crm.Contact").
_PG_RELATIONS = """
    SELECT n.nspname, c.relname, c.relkind IN ('v', 'm'), pg_catalog.pg_table_is_visible(c.oid)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
      AND NOT c.relispartition AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
"""


class SchemaReader:
    """Reads one alias's tables lazily and remembers them for the life of the object."""

    def __init__(self, alias: str):
        if alias not in connections:
            raise ConnectorError(f"No database alias {alias!r} in settings.")
        self.alias = alias
        self.connection = connections[alias]
        self._relations: dict[str, _Relation] | None = None
        self._described: dict[str, TableInfo] = {}

    def _unreachable(self, exc: Exception) -> ConnectorError:
        return ConnectorError(f"Cannot reach database alias {self.alias!r} ({type(exc).__name__}).")

    def _read_relations(self) -> dict[str, _Relation]:
        if self._relations is None:
            relations: dict[str, _Relation] = {}
            try:
                with self.connection.cursor() as cursor:
                    if self.connection.vendor == "postgresql":
                        cursor.execute(_PG_RELATIONS)
                        for schema, name, is_view, visible in cursor.fetchall():
                            if visible:
                                relations[name] = _Relation(None, name, bool(is_view))
                            else:
                                relations[f"{schema}.{name}"] = _Relation(schema, name, bool(is_view))
                    else:
                        for info in self.connection.introspection.get_table_list(cursor):
                            relations[info.name] = _Relation(None, info.name, info.type == "v")
            except DatabaseError as exc:
                raise self._unreachable(exc) from None
            self._relations = relations
        return self._relations

    def table_names(self, *, views: bool = True) -> set[str]:
        """Every table (and view, unless ``views`` is false) of the alias, by the name the map uses."""
        return {name for name, relation in self._read_relations().items() if views or not relation.is_view}

    def is_view(self, name: str) -> bool:
        relation = self._read_relations().get(name)
        return relation is not None and relation.is_view

    def quoted(self, name: str) -> str:
        """The table's name quoted for SQL (``"crm"."Contact"`` for a table of another schema); it must exist."""
        self.table(name)
        relation = self._read_relations()[name]
        qn = self.connection.ops.quote_name
        return f"{qn(relation.schema)}.{qn(relation.name)}" if relation.schema else qn(relation.name)

    @contextmanager
    def _visible(self, cursor: CursorWrapper, relation: _Relation) -> Iterator[str]:
        """Django's introspection reads the tables on the search path: for one of another schema, put that
        schema alone on it while it is read, then restore it."""
        if relation.schema is None:
            yield relation.name
            return
        cursor.execute("SELECT pg_catalog.current_setting('search_path')")
        previous = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident(%s), false)", [relation.schema]
        )
        try:
            yield relation.name
        finally:
            cursor.execute("SELECT pg_catalog.set_config('search_path', %s, false)", [previous])

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
        relation = self._read_relations()[name]
        try:
            with self.connection.cursor() as cursor, self._visible(cursor, relation) as visible_name:
                description = introspection.get_table_description(cursor, visible_name)
                primary_key = introspection.get_primary_key_column(cursor, visible_name)
                constraints = introspection.get_constraints(cursor, visible_name)
                relations = introspection.get_relations(cursor, visible_name)
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
        foreign_keys = {
            # A foreign key of a table in another schema points into that schema (Django reads only those).
            column: (f"{relation.schema}.{target}" if relation.schema else target, target_column)
            for column, (target_column, target) in relations.items()
        }
        table = TableInfo(
            name, columns, primary_key, unique_keys, foreign_keys, tuple(key_columns), is_view=relation.is_view
        )
        self._described[name] = table
        return table

    def references(self, table: str) -> set[str]:
        """The tables ``table`` has foreign keys to (its parents in the database)."""
        return {target for target, _column in self.table(table).foreign_keys.values()}

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
