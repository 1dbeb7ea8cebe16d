"""The SQL connector: a system of record reached through one of Django's database aliases.

DANGER: this module deletes and overwrites rows in other systems' databases.
What protects them:
- every table and column name comes from the data map and is checked against
  the database's own introspection before it is quoted by the backend and put
  into SQL; values (subject keys, cutoffs, replacements) are always bound
  parameters;
- every change for one table (erasure) or one batch (sweep) is a single short
  transaction: it applies fully or not at all; foreign keys are checked inside
  it, so a parent row still referenced by a child is refused, never orphaned;
- masking skips values already masked, so running an erasure or an anonymising
  sweep again changes nothing more;
- errors carry table names and error types only, never values (a database's own
  message may quote the data: "Key (email)=(...) already exists").

PostgreSQL takes the fast paths: exports stream ``COPY ... TO STDOUT`` straight
into the sink, a sweep batch is one statement that selects, deletes or masks,
and computes its evidence digest in the database. SQLite gets equivalent,
simpler code with the same results (the same evidence digests for the same keys).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connections, transaction

from compliance.backoffice import backoffice_table_problem
from compliance.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorUnavailable,
    ErasureOutcome,
    ErasurePlan,
    ExportSink,
    Subject,
    SweepBatch,
    TableCount,
    TablePlan,
)
from compliance.connectors.introspection import ColumnInfo, SchemaReader
from compliance.connectors.pgcopy import copy_out
from compliance.models import HASH_PREFIX, REDACTED, ColumnTreatment, MappedColumn, MappedTable
from compliance.spreadsheet import FORMULA_PREFIXES

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from compliance.models import SystemOfRecord

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "jsonl")
_INTEGER = re.compile(r"^-?\d{1,18}$")
_SQLITE_IN_CHUNK = 500  # bound parameters per IN list on SQLite


def keyed_hash(value: str) -> str:
    """The ``hash`` treatment of a value: ``hmac:`` and the hex HMAC-SHA256 under COMPLIANCE_HMAC_KEY.

    The same value always gives the same result, so hashed columns still join
    and count, but the value cannot be read back without the key.
    """
    digest = hmac.new(settings.COMPLIANCE_HMAC_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def _hmac_pads() -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104), so PostgreSQL can compute it with built-in sha256()."""
    key = settings.COMPLIANCE_HMAC_KEY.encode()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def keys_digest(keys: Sequence[Any]) -> str:
    """The evidence digest of a batch: SHA-256 of the keys, in key order, joined by commas."""
    return hashlib.sha256(",".join(str(k) for k in keys).encode()).hexdigest()


@dataclass
class _Keys:
    """Every identifier the subject is known by in this system."""

    account_refs: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)

    def values(self, subject_key: str, column: ColumnInfo) -> list[Any]:
        if subject_key == MappedTable.SubjectKey.EMAIL:
            return sorted(self.emails)
        refs = sorted(self.account_refs)
        if column.is_integer:
            # Account references arrive as text; an integer column only ever matches integers.
            return sorted({int(ref) for ref in refs if _INTEGER.match(ref)})
        return refs

    def __bool__(self) -> bool:
        return bool(self.account_refs or self.emails)


@dataclass
class _Plan:
    """A table's place in the system: its join path and validated, quoted names."""

    table: MappedTable
    path: list[MappedTable]
    columns: list[MappedColumn]


@dataclass
class _Sweep:
    """One sweep batch's table, key and validated SQL fragments, shared by the PostgreSQL and SQLite paths."""

    table: MappedTable
    source: str
    keys: list[ColumnInfo]
    key_sql: list[str]
    after: list[Any] | None
    age_sql: str
    age_params: list[Any]
    held_sql: str
    held_params: list[Any]
    holds: bool
    deletes: bool
    assignments: str
    assign_params: list[Any]
    done: str
    done_params: list[Any]
    batch_size: int


def _row(parts: Sequence[str]) -> str:
    """A key as SQL: the column itself, or a row value ``(a, b)`` for a key of several columns."""
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def _checkpoint_text(parts: Sequence[Any]) -> str | None:
    """A batch's last key as a checkpoint: its text, or a JSON list of the parts' texts for a composite key."""
    if not parts or parts[0] is None:
        return None
    return str(parts[0]) if len(parts) == 1 else json.dumps([str(part) for part in parts])


class SQLConnector(Connector):
    """Locate, export, erase and sweep through a Django database alias named by the data map."""

    def __init__(self, system: SystemOfRecord) -> None:
        super().__init__(system)
        if not system.database_alias:
            raise ConnectorError(f"System {system.slug!r} has no database alias.")
        self.alias = system.database_alias
        self.schema = SchemaReader(self.alias)
        self.connection = connections[self.alias]
        self.vendor = self.connection.vendor
        self._mapped: dict[int, MappedTable] | None = None

    # -- the data map, validated against the database ---------------------------------------

    def mapped_tables(self) -> dict[int, MappedTable]:
        if self._mapped is None:
            tables = list(self.system.tables.prefetch_related("columns").order_by("table_name"))
            for table in tables:
                # A secret-holding table of the back office that reached the map some other way than the
                # admin or the import (both refuse it): the system is not used at all until it is removed.
                problem = backoffice_table_problem(self.alias, table.table_name)
                if problem:
                    raise ConnectorError(f"System {self.system.slug!r}: {problem}")
            self._mapped = {table.pk: table for table in tables}
        return self._mapped

    def _table(self, table: MappedTable | int) -> MappedTable:
        table_id = table if isinstance(table, int) else table.pk
        found = self.mapped_tables().get(table_id)
        if found is None:
            raise ConnectorError(f"Mapped table {table_id} is not part of system {self.system.slug!r}.")
        return found

    def _path(self, table: MappedTable) -> list[MappedTable]:
        path = [table]
        tables = self.mapped_tables()
        while path[-1].parent_id is not None:
            parent = tables.get(path[-1].parent_id)
            if parent is None or parent in path:
                raise ConnectorError(f"The join path of table {table.table_name!r} is broken.")
            path.append(parent)
        return path

    def _identifies_subject(self, table: MappedTable) -> bool:
        return bool(self._path(table)[-1].subject_column)

    def qn_table(self, name: str) -> str:
        return self.schema.quoted(name)  # raises unless the table exists; "crm"."Contact" for another schema

    def qn_column(self, table: str, column: str) -> str:
        self.schema.column(table, column)  # raises unless the column exists
        return f"{self.schema.quoted(table)}.{self.connection.ops.quote_name(column)}"

    def _refuse_view(self, table: MappedTable, what: str) -> None:
        """A view is mapped for locate and export only: nothing is ever written through it."""
        if self.schema.table(table.table_name).is_view:
            raise ConnectorError(
                f"{self.system.slug}.{table.table_name} is a view: it is mapped to locate and export the subject's "
                f"rows, but {what} never writes through a view. Map the table(s) it reads from, which {what} "
                "changes directly."
            )

    def _column(self, table: str, column: str) -> ColumnInfo:
        return self.schema.column(table, column)

    def _mapped_columns(self, table: MappedTable) -> list[MappedColumn]:
        """The table's mapped columns in the database's column order; drift is an error."""
        info = self.schema.table(table.table_name)
        mapped = {column.name: column for column in table.columns.all()}
        missing = sorted(set(mapped) - set(info.columns))
        if missing:
            raise ConnectorError(
                f"Column {missing[0]!r} of table {table.table_name!r} is in the data map but not in the database "
                "(run datamap_audit)."
            )
        return [mapped[name] for name in info.columns if name in mapped]

    def _order_child_first(self, tables: list[MappedTable]) -> list[MappedTable]:
        """Children before parents: a topological order over the map's ``parent`` links and the
        database's own foreign keys between the tables (api_requests before accounts)."""
        names = {t.table_name: t for t in tables}
        parents: dict[str, set[str]] = {name: set() for name in names}
        for table in tables:
            if table.parent_id and self.mapped_tables()[table.parent_id].table_name in names:
                parents[table.table_name].add(self.mapped_tables()[table.parent_id].table_name)
            parents[table.table_name] |= {p for p in self.schema.references(table.table_name) if p in names}
            parents[table.table_name].discard(table.table_name)
        ordered: list[MappedTable] = []
        remaining = dict(parents)
        while remaining:
            # A table goes once no remaining table still points at it.
            pointed_at = {p for name, ps in remaining.items() for p in ps}
            ready = sorted(name for name in remaining if name not in pointed_at)
            if not ready:  # a cycle of foreign keys: fall back to join-path depth
                ready = sorted(remaining, key=lambda n: (-len(self._path(names[n])), n))[:1]
            for name in ready:
                ordered.append(names[name])
                del remaining[name]
        return ordered

    # -- identifying the subject --------------------------------------------------------------

    def _account_table(self) -> MappedTable | None:
        for table in self.mapped_tables().values():
            if table.subject_key == MappedTable.SubjectKey.ACCOUNT_ID and table.account_email_column:
                return table
        return None

    def _resolve(self, subjects: Sequence[Subject]) -> _Keys:
        """The subjects' keys, completed from the account table (an email finds the account id and back)."""
        keys = _Keys()
        for subject in subjects:
            if subject.account_ref and subject.account_ref.strip():
                keys.account_refs.add(subject.account_ref.strip())
            if subject.email:
                keys.emails.add(subject.key_for("email"))
        account = self._account_table()
        if account is None or not keys:
            return keys
        id_column = self._column(account.table_name, account.subject_column)
        ids = keys.values(MappedTable.SubjectKey.ACCOUNT_ID, id_column)
        emails = sorted(keys.emails)
        conditions, params = [], []
        id_sql = self.qn_column(account.table_name, account.subject_column)
        email_sql = self.qn_column(account.table_name, account.account_email_column)
        if ids:
            conditions.append(f"{id_sql} IN ({', '.join(['%s'] * len(ids))})")
            params.extend(ids)
        if emails:
            conditions.append(f"lower({email_sql}) IN ({', '.join(['%s'] * len(emails))})")
            params.extend(emails)
        if not conditions:
            return keys
        sql = f"SELECT {id_sql}, {email_sql} FROM {self.qn_table(account.table_name)} WHERE {' OR '.join(conditions)}"
        with self._guard(account.table_name), self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            for account_id, email in cursor.fetchall():
                keys.account_refs.add(str(account_id))
                if email and not str(email).startswith(HASH_PREFIX):
                    keys.emails.add(str(email).strip().lower())
        return keys

    def account_emails(self, account_ref: str) -> set[str] | None:
        """The account table's email for ``account_ref`` (its subject key resolved as ``_resolve`` does)."""
        account = self._account_table()
        if account is None:
            return None
        id_column = self._column(account.table_name, account.subject_column)
        ids = _Keys(account_refs={account_ref.strip()}).values(MappedTable.SubjectKey.ACCOUNT_ID, id_column)
        if not ids:
            return set()
        id_sql = self.qn_column(account.table_name, account.subject_column)
        email_sql = self.qn_column(account.table_name, account.account_email_column)
        sql = (
            f"SELECT {email_sql} FROM {self.qn_table(account.table_name)} "
            f"WHERE {id_sql} IN ({', '.join(['%s'] * len(ids))})"
        )
        with self._guard(account.table_name), self.connection.cursor() as cursor:
            cursor.execute(sql, ids)
            # An erased account's email is a hash: it matches no requester, so the account is never bound by email.
            return {str(email or "").strip().lower() for (email,) in cursor.fetchall()}

    def _subject_condition(self, table: MappedTable, keys: _Keys) -> tuple[str, list[Any]] | None:
        """SQL (and params) selecting ``table``'s rows of the subject, through its join path.

        None when the path ends in a key the subject is not known by: the table is not searched.
        """
        path = self._path(table)
        end = path[-1]
        if not end.subject_column:
            return None
        column = self._column(end.table_name, end.subject_column)
        values = keys.values(end.subject_key, column)
        if not values:
            return None
        column_sql = self.qn_column(end.table_name, end.subject_column)
        if end.subject_key == MappedTable.SubjectKey.EMAIL:
            column_sql = f"lower({column_sql})"
        condition = f"{column_sql} IN ({', '.join(['%s'] * len(values))})"
        return self._through_path(path, condition), list(values)

    def _through_path(self, path: list[MappedTable], condition: str) -> str:
        """Lift a condition on the last table of ``path`` to the first, one parent at a time."""
        for child, parent in reversed(list(zip(path, path[1:], strict=False))):
            condition = (
                f"{self.qn_column(child.table_name, child.parent_column)} IN "
                f"(SELECT {self.qn_column(parent.table_name, self._join_key(parent))} "
                f"FROM {self.qn_table(parent.table_name)} WHERE {condition})"
            )
        return condition

    def _join_key(self, parent: MappedTable) -> str:
        """The one column a child's ``parent_column`` refers to (the map refuses a parent without one)."""
        columns = parent.key_columns()
        if len(columns) != 1:
            raise ConnectorError(
                f"{self.system.slug}.{parent.table_name}: a parent table needs a key of one column to join on "
                "(name a unique column of it as its key)."
            )
        return columns[0]

    # -- errors ---------------------------------------------------------------------------------

    @contextmanager
    def _guard(self, table_name: str) -> Iterator[None]:
        """Turn database errors into PII-free connector errors naming the system and table only."""
        where = f"{self.system.slug}.{table_name}"
        try:
            yield
        except ConnectorError:
            raise
        except IntegrityError:
            logger.warning("connector integrity error on %s", where)
            raise ConnectorError(
                f"{where}: rows are still referenced by another table; erase or mask the referencing rows first "
                "(nothing was changed in this step)."
            ) from None
        except (OperationalError, InterfaceError) as exc:
            logger.warning("connector cannot reach %s: %s", self.alias, type(exc).__name__)
            raise ConnectorUnavailable(
                f"{where}: cannot reach database alias {self.alias!r} ({type(exc).__name__}); nothing was changed "
                "in this step.",
                kind=type(exc).__name__,
            ) from None
        except DatabaseError as exc:
            logger.warning("connector database error on %s: %s", where, type(exc).__name__)
            raise ConnectorError(f"{where}: the database refused the operation ({type(exc).__name__}).") from None

    @contextmanager
    def _write_transaction(self, table_name: str) -> Iterator[Any]:
        """One transaction for one table or batch, foreign keys checked before it ends."""
        nested = self.connection.in_atomic_block
        with self._guard(table_name), transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            if self.vendor == "postgresql" and nested:
                # Django creates foreign keys DEFERRABLE INITIALLY DEFERRED: checked at COMMIT, which
                # a step nested in the caller's transaction does not reach. Check them now, so a
                # refused delete fails this step (its savepoint) and names this table.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            yield cursor
            if self.vendor == "sqlite":
                self._sqlite_check_references(cursor, table_name)

    def _sqlite_check_references(self, cursor: Any, table_name: str) -> None:
        """SQLite checks deferred foreign keys only at COMMIT (never inside a test's savepoint): check here."""
        qn = self.connection.ops.quote_name
        for other in sorted(self.schema.table_names()):
            cursor.execute(f"PRAGMA foreign_key_list({qn(other)})")
            if any(row[2] == table_name for row in cursor.fetchall()):
                cursor.execute(f"PRAGMA foreign_key_check({qn(other)})")
                if cursor.fetchone() is not None:
                    raise IntegrityError("foreign key check failed")

    # -- locate -----------------------------------------------------------------------------------

    def locate(self, subject: Subject) -> list[TableCount]:
        keys = self._resolve([subject])
        counts = []
        for table in self.mapped_tables().values():
            found = self._subject_condition(table, keys)
            if found is None:
                continue
            condition, params = found
            with self._guard(table.table_name), self.connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {self.qn_table(table.table_name)} WHERE {condition}", params)
                rows = cursor.fetchone()[0]
            counts.append(TableCount(table.pk, table.table_name, rows))
        return counts

    # -- export -----------------------------------------------------------------------------------

    def export(self, subject: Subject, sink: ExportSink) -> list[TableCount]:
        formats = tuple(getattr(sink, "formats", EXPORT_FORMATS))
        unknown = set(formats) - set(EXPORT_FORMATS)
        if unknown:
            raise ConnectorError(f"Unknown export format {sorted(unknown)[0]!r}.")
        keys = self._resolve([subject])
        counts = []
        side_by_side = self.vendor == "postgresql" and len(formats) > 1 and not self.connection.in_atomic_block
        with ExitStack() as helper_thread:
            helper = None
            if side_by_side:
                # One helper thread, with its own connection, for every table of this export.
                helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-copy")
                helper_thread.enter_context(helper)
                helper_thread.callback(lambda: helper.submit(lambda: connections[self.alias].close()))
            for table in self.mapped_tables().values():
                found = self._subject_condition(table, keys)
                if found is None:
                    continue
                condition, params = found
                mapped = self._mapped_columns(table)
                if not mapped:
                    continue
                # Columns the map withholds from access answers (a key's hash, staff ids) never leave the database;
                # a table whose every column is withheld still gives one (empty) record per row.
                columns = [column for column in mapped if not column.access_withheld]
                if helper is not None:
                    rows = self._export_side_by_side(helper, table, columns, condition, params, formats, sink)
                else:
                    rows = self._export_one_by_one(table, columns, condition, params, formats, sink)
                counts.append(TableCount(table.pk, table.table_name, rows))
        return counts

    def _export_one_by_one(
        self,
        table: MappedTable,
        columns: list[MappedColumn],
        condition: str,
        params: list[Any],
        formats: tuple[str, ...],
        sink: ExportSink,
    ) -> int:
        rows = 0
        for fmt in formats:
            with self._guard(table.table_name), sink.open_stream(table, fmt) as stream:
                if self.vendor == "postgresql":
                    sql = self._copy_sql(table, columns, condition, fmt)
                    rows = self._copy(self.connection, sql, params, stream)
                else:
                    rows = self._export_generic(table, columns, condition, params, fmt, stream)
        return rows

    def _select_list(self, table: MappedTable, columns: list[MappedColumn], *, csv_safe: bool) -> str:
        qn = self.connection.ops.quote_name
        parts = []
        for column in columns:
            column_sql = self.qn_column(table.table_name, column.name)
            if csv_safe and self._column(table.table_name, column.name).is_text:
                starts = ", ".join(
                    "chr(9)" if s == "\t" else "chr(13)" if s == "\r" else f"'{s}'" for s in FORMULA_PREFIXES
                )
                if self.vendor == "sqlite":
                    starts = starts.replace("chr(", "char(")
                # As text: "text" columns include uuid and inet, which PostgreSQL's substr() does not take.
                as_text = f"CAST({column_sql} AS TEXT)"
                column_sql = (
                    f"CASE WHEN substr({as_text}, 1, 1) IN ({starts}) THEN '''' || {as_text} ELSE {as_text} END"
                )
            parts.append(f"{column_sql} AS {qn(column.name)}")
        return ", ".join(parts)

    def _copy_sql(self, table: MappedTable, columns: list[MappedColumn], condition: str, fmt: str) -> str:
        source = self.qn_table(table.table_name)
        if fmt == "csv":
            select = self._select_list(table, columns, csv_safe=True)
            return f"COPY (SELECT {select} FROM {source} WHERE {condition}) TO STDOUT WITH (FORMAT csv, HEADER)"
        select = self._select_list(table, columns, csv_safe=False)
        # CSV framing with quote and delimiter characters JSON never emits raw: each line is
        # exactly row_to_json's output (text COPY would escape its backslashes).
        return (
            f"COPY (SELECT row_to_json(r) FROM (SELECT {select} FROM {source} WHERE {condition}) r) "
            "TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
        )

    def _copy(self, connection: BaseDatabaseWrapper, sql: str, params: list[Any], stream: Any) -> int:
        # COPY output read in blocks, not a Python call per row (compliance/connectors/pgcopy.py).
        connection.ensure_connection()
        with connection.wrap_database_errors:
            return copy_out(connection.connection, sql, params, stream.write)

    def _export_side_by_side(
        self,
        helper: ThreadPoolExecutor,
        table: MappedTable,
        columns: list[MappedColumn],
        condition: str,
        params: list[Any],
        formats: tuple[str, ...],
        sink: ExportSink,
    ) -> int:
        """Every format's ``COPY`` at once, on two connections, both reading one snapshot.

        PostgreSQL's work (``row_to_json`` above all) is most of an export's time:
        the first format runs here and the others on the ``helper`` thread's own
        connection, on separate server processes, in parallel; a shared
        ``REPEATABLE READ`` snapshot makes every format hold the same rows. Only
        outside a transaction of the caller's (another connection would not see
        its uncommitted rows). Returns the rows of the last format.
        """
        first, *others = formats
        statements = {fmt: self._copy_sql(table, columns, condition, fmt) for fmt in formats}
        with self._guard(table.table_name), ExitStack() as stack:
            streams = {fmt: stack.enter_context(sink.open_stream(table, fmt)) for fmt in formats}
            with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                future = helper.submit(self._copy_in_snapshot, snapshot, others, statements, params, streams)
                try:
                    rows = {first: self._copy(self.connection, statements[first], params, streams[first])}
                finally:
                    wait([future])  # the helper is done with the streams before they close, even after a failure
                rows.update(future.result())
        return rows[formats[-1]]

    def _copy_in_snapshot(
        self,
        snapshot: str,
        formats: list[str],
        statements: dict[str, str],
        params: list[Any],
        streams: dict[str, Any],
    ) -> dict[str, int]:
        """``formats``' COPYs on this thread's own connection, in the snapshot another transaction exported."""
        connection = connections[self.alias]
        with transaction.atomic(using=self.alias), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            return {fmt: self._copy(connection, statements[fmt], params, streams[fmt]) for fmt in formats}

    def _export_generic(
        self,
        table: MappedTable,
        columns: list[MappedColumn],
        condition: str,
        params: Sequence[Any],
        fmt: str,
        stream: Any,
    ) -> int:
        names = [column.name for column in columns]
        select = self._select_list(table, columns, csv_safe=fmt == "csv") or "1"
        sql = f"SELECT {select} FROM {self.qn_table(table.table_name)} WHERE {condition}"
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        rows = 0
        try:
            writer = csv.writer(text) if fmt == "csv" else None
            if writer:
                writer.writerow(names)
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                while batch := cursor.fetchmany(2000):
                    for row in batch:
                        values = row[: len(names)]  # none when every column is withheld
                        if writer:
                            writer.writerow(values)
                        else:
                            text.write(json.dumps(dict(zip(names, values, strict=True)), default=_json_value) + "\n")
                    rows += len(batch)
            text.flush()
        finally:
            text.detach()
        return rows

    # -- erase ------------------------------------------------------------------------------------

    def erase(self, subject: Subject, plan: ErasurePlan) -> list[ErasureOutcome]:
        planned = {}
        for entry in plan.tables:
            table = self._table(entry.table_id)
            if entry.action not in {"delete", "mask", "keep"}:
                raise ConnectorError(f"Unknown erasure action {entry.action!r} for table {table.table_name!r}.")
            planned[table.pk] = (table, entry)
        keys = self._resolve([subject])
        outcomes = []
        for table in self._order_child_first([t for t, _ in planned.values()]):
            entry = planned[table.pk][1]
            found = self._subject_condition(table, keys)
            if found is None:
                outcomes.append(ErasureOutcome(table.pk, table.table_name, reason=entry.reason))
                continue
            condition, params = found
            source = self.qn_table(table.table_name)
            columns = self._mapped_columns(table)
            deletes = entry.action == "delete" or (
                entry.action == "mask" and any(c.treatment == ColumnTreatment.DELETE_ROW for c in columns)
            )
            if entry.action != "keep":
                self._refuse_view(table, "erasure")
            kept, kept_latest = 0, None
            if entry.keep_newer and entry.action != "keep":
                # Only the rows older than every cutoff are erased; the others are counted as kept.
                ages = [self._age_condition(table, column, cutoff) for column, cutoff in entry.keep_newer]
                age_sql = " AND ".join(f"({sql})" for sql, _ in ages)
                age_params = [value for _, values in ages for value in values]
                kept, kept_latest = self._kept_rows(table, entry, condition, params, age_sql, age_params)
                condition, params = f"({condition}) AND {age_sql}", [*params, *age_params]
            if entry.action == "keep":
                with self._guard(table.table_name), self.connection.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM {source} WHERE {condition}", params)
                    kept = cursor.fetchone()[0]
                outcomes.append(ErasureOutcome(table.pk, table.table_name, kept=kept, reason=entry.reason))
            elif deletes:
                with self._write_transaction(table.table_name) as cursor:
                    cursor.execute(f"DELETE FROM {source} WHERE {condition}", params)
                    deleted = cursor.rowcount
                outcomes.append(
                    ErasureOutcome(
                        table.pk,
                        table.table_name,
                        deleted=deleted,
                        kept=kept,
                        reason=entry.reason,
                        kept_latest=kept_latest,
                    )
                )
            else:
                assignments, assign_params, done, done_params = self._treatments(table, columns)
                masked = 0
                if assignments:
                    sql = f"UPDATE {source} SET {assignments} WHERE {condition} AND NOT ({done})"
                    with self._write_transaction(table.table_name) as cursor:
                        self._prepare_hash(cursor)
                        cursor.execute(sql, [*assign_params, *params, *done_params])
                        masked = cursor.rowcount
                outcomes.append(
                    ErasureOutcome(
                        table.pk,
                        table.table_name,
                        masked=masked,
                        kept=kept,
                        reason=entry.reason,
                        kept_latest=kept_latest,
                    )
                )
        return outcomes

    def _kept_rows(
        self,
        table: MappedTable,
        entry: TablePlan,
        condition: str,
        params: list[Any],
        age_sql: str,
        age_params: list[Any],
    ) -> tuple[int, datetime | None]:
        """How many of the subject's rows a ``keep_newer`` entry keeps, and the latest trigger among them
        (when the first trigger column is the table's own)."""
        column, _cutoff = entry.keep_newer[0]
        latest = "NULL"
        if "." not in column:
            latest = f"max({self.qn_column(table.table_name, column)})"
        sql = (
            f"SELECT count(*), {latest} FROM {self.qn_table(table.table_name)} "
            f"WHERE ({condition}) AND NOT COALESCE(({age_sql}), {self._false()})"
        )
        with self._guard(table.table_name), self.connection.cursor() as cursor:
            cursor.execute(sql, [*params, *age_params])
            count, value = cursor.fetchone()
        if isinstance(value, str):  # SQLite hands timestamps back as text
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            from datetime import UTC

            value = value.replace(tzinfo=UTC)
        return int(count), value if isinstance(value, datetime) else None

    def _prepare_hash(self, cursor: Any) -> None:
        if self.vendor == "sqlite":
            # The same HMAC as PostgreSQL computes in SQL, registered on this connection.
            self.connection.connection.create_function(
                "bo_keyed_hash", 1, lambda v: None if v is None else keyed_hash(str(v))[len(HASH_PREFIX) :]
            )

    def _treatments(self, table: MappedTable, columns: list[MappedColumn]) -> tuple[str, list[Any], str, list[Any]]:
        """SET clauses for the columns' treatments, and a condition true when a row is already masked."""
        qn = self.connection.ops.quote_name
        sets, set_params, done, done_params = [], [], [], []
        for column in columns:
            treatment = column.treatment
            if treatment in {ColumnTreatment.KEEP, ColumnTreatment.DELETE_ROW}:
                continue
            ref = self.qn_column(table.table_name, column.name)
            if treatment == ColumnTreatment.NULL:
                sets.append(f"{qn(column.name)} = NULL")
                done.append(f"{ref} IS NULL")
            elif treatment == ColumnTreatment.FIXED:
                sets.append(f"{qn(column.name)} = %s")
                set_params.append(column.replacement)
                done.append(f"COALESCE({ref} = %s, {self._false()})")
                done_params.append(column.replacement)
            elif treatment == ColumnTreatment.REDACT:
                sets.append(f"{qn(column.name)} = CASE WHEN {ref} IS NULL THEN NULL ELSE %s END")
                set_params.append(REDACTED)
                done.append(f"({ref} IS NULL OR {ref} = %s)")
                done_params.append(REDACTED)
            elif treatment == ColumnTreatment.HASH:
                already = f"substr({ref}, 1, {len(HASH_PREFIX)}) = %s"
                if self.vendor == "postgresql":
                    inner, outer = _hmac_pads()
                    digest = f"encode(sha256(%s::bytea || sha256(%s::bytea || convert_to({ref}::text, 'UTF8'))), 'hex')"
                    digest_params = [outer, inner]
                else:
                    digest = f"bo_keyed_hash({ref})"
                    digest_params = []
                sets.append(
                    f"{qn(column.name)} = CASE WHEN {ref} IS NULL OR {already} THEN {ref} ELSE %s || {digest} END"
                )
                set_params.extend([HASH_PREFIX, HASH_PREFIX, *digest_params])
                done.append(f"({ref} IS NULL OR {already})")
                done_params.append(HASH_PREFIX)
        return ", ".join(sets), set_params, " AND ".join(done), done_params

    def _false(self) -> str:
        return "FALSE" if self.vendor == "postgresql" else "0"

    # -- restriction (Art. 18) -----------------------------------------------------------------------

    def restrict(
        self, subject: Subject, *, restricted: bool = True, table_ids: Sequence[int] | None = None
    ) -> list[TableCount]:
        keys = self._resolve([subject])
        counts = []
        for table in self.mapped_tables().values():
            if not table.restriction_flag_column:
                continue
            if table_ids is not None and table.pk not in table_ids:
                continue
            found = self._subject_condition(table, keys)
            if found is None:
                continue
            condition, params = found
            flag = self.qn_column(table.table_name, table.restriction_flag_column)
            sql = (
                f"UPDATE {self.qn_table(table.table_name)} SET "
                f"{self.connection.ops.quote_name(table.restriction_flag_column)} = %s "
                f"WHERE {condition} AND ({flag} IS NULL OR {flag} <> %s)"
            )
            with self._write_transaction(table.table_name) as cursor:
                cursor.execute(sql, [restricted, *params, restricted])
                counts.append(TableCount(table.pk, table.table_name, cursor.rowcount))
        return counts

    # -- sweep ------------------------------------------------------------------------------------

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
        """Delete or anonymise the rows older than ``cutoff`` among the next ``batch_size`` keys after
        ``checkpoint``, in one transaction; the key may have several columns (a composite key).

        A batch is the key range (checkpoint, k], k the ``batch_size``-th key after the checkpoint, found
        in the key's index alone. Within it, the rows older than the cutoff are deleted or anonymised by
        one range scan: each row is read once, never looked up again by its key.
        """
        table = self._table(table)
        if action not in {"delete", "anonymise"}:
            raise ConnectorError(f"Unknown sweep action {action!r}.")
        if batch_size < 1:
            raise ConnectorError("The batch size must be at least 1.")
        if cutoff.tzinfo is None:
            raise ConnectorError("The cutoff must be a timezone-aware datetime.")
        self._refuse_view(table, "a retention sweep")
        keys = self._sweep_keys(table)
        age_sql, age_params = self._age_condition(table, timestamp_column, cutoff)
        held_sql, held_params = self._held_condition(table, held_subjects or [])
        columns = self._mapped_columns(table)
        deletes = action == "delete" or any(c.treatment == ColumnTreatment.DELETE_ROW for c in columns)
        if deletes:
            assign_params: list[Any]
            done_params: list[Any]
            assignments, assign_params, done, done_params = "", [], "", []
        else:
            assignments, assign_params, done, done_params = self._treatments(table, columns)
            if not assignments:
                raise ConnectorError(
                    f"{self.system.slug}.{table.table_name}: no column has a treatment to anonymise with."
                )
        sweep = _Sweep(
            table=table,
            source=self.qn_table(table.table_name),
            keys=keys,
            key_sql=[self.qn_column(table.table_name, key.name) for key in keys],
            after=self._checkpoint_value(checkpoint, keys),
            age_sql=age_sql,
            age_params=age_params,
            held_sql=held_sql,
            held_params=held_params,
            holds=bool(held_subjects),
            deletes=deletes,
            assignments=assignments,
            assign_params=assign_params,
            done=done,
            done_params=done_params,
            batch_size=batch_size,
        )
        started = time.perf_counter()
        if self.vendor == "postgresql":
            looked_at, last, held, old, affected, digest = self._sweep_postgres(sweep)
        else:
            looked_at, last, held, old, affected, digest = self._sweep_generic(sweep)
        matched = old if old is not None else affected + held
        duration_ms = (time.perf_counter() - started) * 1000
        return SweepBatch(
            matched=matched,
            affected=affected,
            skipped_held=held,
            checkpoint=last if last is not None else checkpoint,
            keys_sha256=digest,
            done=looked_at < batch_size,
            duration_ms=duration_ms,
        )

    def _sweep_keys(self, table: MappedTable) -> list[ColumnInfo]:
        """The columns a sweep walks the table by, in the map's order: its key, one column or several."""
        names = table.key_columns()
        if not names:
            raise ConnectorError(
                f"{self.system.slug}.{table.table_name}: the map names no primary key, and a sweep works through "
                "the table in key order. Name the table's primary key or a unique column in the map (or add one "
                "to the table) to sweep it; erasure by subject works without one."
            )
        return [self._column(table.table_name, name) for name in names]

    def _sweep_postgres(self, sweep: _Sweep) -> tuple[int, str | None, int, int | None, int, str]:
        """One statement: the batch's bound, the change, the held and matched counts and the digest of the
        changed keys, all computed in the database."""
        source, composite = sweep.source, len(sweep.keys) > 1
        # Text keys compare byte by byte ("C"), as Python and SQLite order them, so both give the same batches.
        keyed = [
            f'{sql} COLLATE "C"' if key.is_text else sql for sql, key in zip(sweep.key_sql, sweep.keys, strict=True)
        ]
        after_sql, after_params = "", []
        if sweep.after is not None:
            after_sql, after_params = f" AND {_row(keyed)} > {_row(['%s'] * len(keyed))}", list(sweep.after)
        if composite:
            # The last key of the batch: the highest of the first ``batch_size`` keys, one column per part.
            names = [f"k{i}" for i in range(len(keyed))]
            ks = [f'{name} COLLATE "C"' if key.is_text else name for name, key in zip(names, sweep.keys, strict=True)]
            first = (
                f"SELECT {', '.join(f'{sql} AS {name}' for sql, name in zip(sweep.key_sql, names, strict=True))} "
                f"FROM {source} WHERE TRUE{after_sql} ORDER BY {', '.join(keyed)} LIMIT %s"
            )
            his = ", ".join(f"{name} AS hi{i}" for i, name in enumerate(names))
            bound = (
                f"SELECT (SELECT count(*) FROM batch) AS n, top.* FROM (SELECT 1) one LEFT JOIN "
                f"(SELECT {his} FROM batch ORDER BY {', '.join(f'{k} DESC' for k in ks)} LIMIT 1) top ON TRUE"
            )
            head = f"WITH batch AS ({first}), bound AS ({bound})"
            upper = _row([f"bound.hi{i}" for i in range(len(keyed))])
            returning = ", ".join(f"{sql} AS k{i}" for i, sql in enumerate(sweep.key_sql))
            key_text = "concat_ws('|', " + ", ".join(f"k{i}::text" for i in range(len(keyed))) + ")"
            key_order = ", ".join(ks)
            last_sql = ", ".join(f"bound.hi{i}::text" for i in range(len(keyed)))
        else:
            collate = ' COLLATE "C"' if sweep.keys[0].is_text else ""
            pk_sql = sweep.key_sql[0]
            head = (
                f"WITH bound AS (SELECT max(k{collate}) AS hi, count(*) AS n FROM (SELECT {pk_sql} AS k "
                f"FROM {source} WHERE TRUE{after_sql} ORDER BY {pk_sql}{collate} LIMIT %s) c)"
            )
            upper, returning, key_text, key_order, last_sql = (
                "bound.hi",
                f"{pk_sql} AS k",
                "k",
                f"k{collate}",
                "bound.hi::text",
            )
        in_range = f"{sweep.age_sql}{after_sql} AND {_row(keyed)} <= {upper}"
        bound_params = [*after_params, sweep.batch_size]
        held_sql, held_params = sweep.held_sql, sweep.held_params
        if sweep.deletes:
            change = (
                f"DELETE FROM {source} USING bound WHERE {in_range} AND NOT COALESCE({held_sql}, FALSE) "
                f"RETURNING {returning}"
            )
            change_params = [*sweep.age_params, *after_params, *held_params]
        else:
            change = (
                f"UPDATE {source} SET {sweep.assignments} FROM bound WHERE {in_range} "
                f"AND NOT COALESCE({held_sql}, FALSE) AND NOT ({sweep.done}) RETURNING {returning}"
            )
            change_params = [*sweep.assign_params, *sweep.age_params, *after_params, *held_params, *sweep.done_params]
        held_count, held_count_params = "0", []
        if sweep.holds:
            held_count = f"(SELECT count(*) FROM {source} WHERE {in_range} AND COALESCE({held_sql}, FALSE))"
            held_count_params = [*sweep.age_params, *after_params, *held_params]
        old_count, old_count_params = "NULL", []
        if not sweep.deletes:  # rows already anonymised are matched but not changed again
            old_count = f"(SELECT count(*) FROM {source} WHERE {in_range})"
            old_count_params = [*sweep.age_params, *after_params]
        sql = (
            f"{head}, changed AS ({change}) "
            f"SELECT bound.n, {last_sql}, {held_count}, {old_count}, done.n, "
            "encode(sha256(convert_to(coalesce(done.keys, ''), 'UTF8')), 'hex') FROM bound, "
            # array_to_string(array_agg(...)) builds the same text as string_agg(k::text, ...) at less
            # than half its cost per key (measured: the evidence was 40% of a batch's time with string_agg).
            f"(SELECT count(*) AS n, array_to_string(array_agg({key_text} ORDER BY {key_order}), ',') AS keys "
            "FROM changed) done"
        )
        params = [*bound_params, *change_params, *held_count_params, *old_count_params]
        with self._write_transaction(sweep.table.table_name) as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        looked_at, *last_parts = row[: 1 + len(sweep.keys)]
        held, old, affected, digest = row[1 + len(sweep.keys) :]
        return looked_at, _checkpoint_text(last_parts), held, old, affected, digest

    def _sweep_generic(self, sweep: _Sweep) -> tuple[int, str | None, int, int | None, int, str]:
        """The same batch on SQLite, a few simple statements in one transaction, the digest in Python."""
        source, key_row = sweep.source, _row(sweep.key_sql)
        placeholders = _row(["%s"] * len(sweep.keys))
        after_sql, after_params = "", []
        if sweep.after is not None:
            after_sql, after_params = f" AND {key_row} > {placeholders}", list(sweep.after)
        in_range = f"{sweep.age_sql}{after_sql} AND {key_row} <= {placeholders}"
        held_sql, held_params = sweep.held_sql, sweep.held_params
        held, old, changed = 0, None, []
        with self._write_transaction(sweep.table.table_name) as cursor:
            cursor.execute(
                f"SELECT {', '.join(sweep.key_sql)} FROM {source} WHERE 1 = 1{after_sql} "
                f"ORDER BY {', '.join(sweep.key_sql)} LIMIT %s",
                [*after_params, sweep.batch_size],
            )
            keys = [tuple(row) for row in cursor.fetchall()]
            if keys:
                range_params = [*sweep.age_params, *after_params, *keys[-1]]
                if sweep.holds:
                    cursor.execute(
                        f"SELECT count(*) FROM {source} WHERE {in_range} AND COALESCE({held_sql}, 0)",
                        [*range_params, *held_params],
                    )
                    held = cursor.fetchone()[0]
                if sweep.deletes:
                    cursor.execute(
                        f"DELETE FROM {source} WHERE {in_range} AND NOT COALESCE({held_sql}, 0) "
                        f"RETURNING {', '.join(sweep.key_sql)}",
                        [*range_params, *held_params],
                    )
                else:
                    cursor.execute(f"SELECT count(*) FROM {source} WHERE {in_range}", range_params)
                    old = cursor.fetchone()[0]
                    self._prepare_hash(cursor)
                    cursor.execute(
                        f"UPDATE {source} SET {sweep.assignments} WHERE {in_range} AND NOT COALESCE({held_sql}, 0) "
                        f"AND NOT ({sweep.done}) RETURNING {', '.join(sweep.key_sql)}",
                        [*sweep.assign_params, *range_params, *held_params, *sweep.done_params],
                    )
                changed = [tuple(row) for row in cursor.fetchall()]
        last = _checkpoint_text([str(part) for part in keys[-1]]) if keys else None
        digest = keys_digest(["|".join(str(part) for part in key) for key in sorted(changed)])
        return len(keys), last, held, old, len(changed), digest

    def _checkpoint_value(self, checkpoint: str | None, keys: list[ColumnInfo]) -> list[Any] | None:
        """The key a batch starts after: a key's text, or for a composite key a JSON list of its parts' texts."""
        if checkpoint is None or checkpoint == "":
            return None
        parts: Any = [checkpoint]
        if len(keys) > 1:
            try:
                parts = json.loads(checkpoint)
            except ValueError:
                parts = None
            if not isinstance(parts, list) or len(parts) != len(keys):
                raise ConnectorError("The checkpoint is not a key of this table.")
        values = []
        for part, key in zip(parts, keys, strict=True):
            if key.is_integer:
                if not _INTEGER.match(str(part)):
                    raise ConnectorError("The checkpoint is not a key of this table.")
                values.append(int(part))
            else:
                values.append(str(part))
        return values

    def sweep_counts(
        self,
        table: MappedTable,
        *,
        timestamp_column: str,
        cutoff: datetime,
        action: str,
        subject_groups: Sequence[Sequence[Subject]] = (),
    ) -> list[int]:
        """One read-only statement built from the sweep's own conditions (age through the join path, held
        subjects, rows already anonymised), so the count and the sweep select the same rows by construction,
        whatever the number of holds."""
        table = self._table(table)
        if action not in {"delete", "anonymise"}:
            raise ConnectorError(f"Unknown sweep action {action!r}.")
        self._refuse_view(table, "a retention sweep")
        age_sql, age_params = self._age_condition(table, timestamp_column, cutoff)
        where, where_params = [age_sql], list(age_params)
        columns = self._mapped_columns(table)
        deletes = action == "delete" or any(c.treatment == ColumnTreatment.DELETE_ROW for c in columns)
        if not deletes:
            _sets, _set_params, done, done_params = self._treatments(table, columns)
            if done:
                where.append(f"NOT ({done})")
                where_params.extend(done_params)
        figures, figure_params = ["count(*)"], []
        for subjects in subject_groups:
            held_sql, held_params = self._held_condition(table, list(subjects))
            figures.append(
                f"count(*) FILTER (WHERE {held_sql})"
                if self.vendor == "postgresql"
                else f"coalesce(sum(CASE WHEN {held_sql} THEN 1 ELSE 0 END), 0)"
            )
            figure_params.extend(held_params)
        sql = f"SELECT {', '.join(figures)} FROM {self.qn_table(table.table_name)} WHERE {' AND '.join(where)}"
        with self._guard(table.table_name), self.connection.cursor() as cursor:
            cursor.execute(sql, [*figure_params, *where_params])
            return [int(value) for value in cursor.fetchone()]

    def _age_condition(self, table: MappedTable, timestamp_column: str, cutoff: datetime) -> tuple[str, list[Any]]:
        """``timestamp_column < cutoff``, on the table itself or on a table of its join path."""
        path = self._path(table)
        if "." in timestamp_column:
            owner_name, column_name = timestamp_column.split(".", 1)
        else:
            owner_name, column_name = table.table_name, timestamp_column
        owners = [t.table_name for t in path]
        account = self._account_table()
        through_account = (
            owner_name not in owners
            and account is not None
            and owner_name == account.table_name
            and path[-1].subject_column
        )
        if owner_name not in owners and not through_account:
            raise ConnectorError(f"Table {owner_name!r} is not on the join path of {table.table_name!r}.")
        info = self._column(owner_name, column_name)
        if not info.is_timestamp:
            raise ConnectorError(f"Column {column_name!r} of {owner_name!r} is not a timestamp.")
        value: Any = cutoff
        if info.field_type == "DateField":
            value = cutoff.date()
        elif self.vendor == "sqlite":
            value = self.connection.ops.adapt_datetimefield_value(cutoff)
        condition = f"{self.qn_column(owner_name, column_name)} < %s"
        if through_account:
            # An event of the subject's account (e.g. its closure), reached through the subject key.
            end = path[-1]
            end_sql = self.qn_column(end.table_name, end.subject_column)
            if end.subject_key == MappedTable.SubjectKey.EMAIL:
                key_sql = f"lower({self.qn_column(account.table_name, account.account_email_column)})"
                end_sql = f"lower({end_sql})"
            else:
                key_sql = self.qn_column(account.table_name, account.subject_column)
            condition = f"{end_sql} IN (SELECT {key_sql} FROM {self.qn_table(account.table_name)} WHERE {condition})"
            return self._through_path(path, condition), [value]
        return self._through_path(path[: owners.index(owner_name) + 1], condition), [value]

    def _held_condition(self, table: MappedTable, subjects: list[Subject]) -> tuple[str, list[Any]]:
        if not subjects:
            return self._false(), []
        found = self._subject_condition(table, self._resolve(subjects))
        if found is None:
            return self._false(), []
        return found

    # -- subjects ---------------------------------------------------------------------------------

    def sample_subjects(self, limit: int) -> list[Subject]:
        account = self._account_table()
        if account is None:
            raise ConnectorError(
                f"System {self.system.slug!r} has no account table (a table identified by the account id that "
                "names the account's email column)."
            )
        pk = ", ".join(
            self.qn_column(account.table_name, name) for name in account.key_columns() or [account.subject_column]
        )
        id_sql = self.qn_column(account.table_name, account.subject_column)
        email_sql = self.qn_column(account.table_name, account.account_email_column)
        sql = (
            f"SELECT {id_sql}, {email_sql} FROM {self.qn_table(account.table_name)} "
            f"WHERE substr({email_sql}, 1, {len(HASH_PREFIX)}) <> %s ORDER BY {pk} LIMIT %s"
        )
        with self._guard(account.table_name), self.connection.cursor() as cursor:
            cursor.execute(sql, [HASH_PREFIX, max(0, int(limit))])
            return [Subject(account_ref=str(row[0]), email=row[1] or None) for row in cursor.fetchall()]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)
