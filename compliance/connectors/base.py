"""How the back office reaches a system of record: one small interface, three kinds.

Export, erasure and retention all act on Studio's data through this interface,
driven by the data map (``compliance.models``). Implementations live beside this
module (``sql``, ``webhook``, ``manual``); ``get_connector(system)`` picks one.

Everything here takes ids and data-map rows, returns counts and checkpoints,
and never logs or raises with personal data in the message.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from compliance.models import MappedTable, SystemOfRecord


class ConnectorError(Exception):
    """A connector could not do its work. The message is safe to store and show (no personal data)."""


class ConnectorUnavailable(ConnectorError):
    """The system's database or service could not be reached (a restart, a failover, a network cut);
    nothing was changed. Worth retrying: jobs resume from their checkpoint rather than fail for good."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # the underlying error's class name, never its text


class ConnectorPending(ConnectorError):
    """The system does the work itself (a person, a remote service) and has not finished yet.

    Raised by the ``manual`` connector (a task was opened or is still open) and by
    the ``webhook`` connector (the remote system accepted the job). ``reference``
    names the task or job, e.g. ``"manual task 12"``. Call the same operation
    again later: the same task or job is found again (never a second one), and
    once it is done the call returns its result. Callers that do not handle it
    specially see a ``ConnectorError`` with a clear message.
    """

    def __init__(self, message: str, *, reference: str) -> None:
        super().__init__(message)
        self.reference = reference


@dataclass(frozen=True)
class Subject:
    """Whom a request or a hold is about, as the systems of record know them.

    ``account_ref`` is the platform account id (as text); ``email`` the address.
    A table keyed by account id needs ``account_ref``; one keyed by email needs
    ``email``; a table whose key the subject lacks is simply not searched.
    """

    account_ref: str | None = None
    email: str | None = None
    # What the work is for, for people (a request reference such as DSR-2026-00046); never personal data,
    # and not part of who the subject is.
    reference: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.account_ref and not self.email:
            raise ValueError("a subject needs an account reference or an email")

    def key_for(self, subject_key: str) -> str | None:
        """The identifier matching a table's ``subject_key`` ("account_id" or "email")."""
        if subject_key == "account_id":
            return self.account_ref
        if subject_key == "email":
            return self.email.strip().lower() if self.email else None
        raise ValueError(f"unknown subject key {subject_key!r}")


class ExportSink(Protocol):
    """Where ``Connector.export`` streams a subject's rows.

    The connector asks for one binary stream per (table, format) and writes the
    encoded rows into it: ``csv`` (UTF-8, header row first) and ``jsonl`` (one JSON
    object per line, keys are column names). The sink decides where the bytes go
    (a ZIP member, a file, a hash).

    A sink may set a ``formats`` attribute (e.g. ``("jsonl",)``) to receive only
    some formats; without it the connector writes both. In ``csv`` a text value
    starting with ``= + - @``, a tab or a carriage return is prefixed with ``'`` so
    spreadsheet programs do not run it as a formula; ``jsonl`` keeps values exact.
    """

    def open_stream(self, table: MappedTable, fmt: str) -> AbstractContextManager[BinaryIO]: ...


@dataclass(frozen=True)
class TablePlan:
    """What erasure does to one table for one subject.

    ``action``: ``delete`` (delete the subject's rows), ``mask`` (apply the
    column treatments of the data map to the subject's rows) or ``keep`` (leave
    them, with ``reason`` saying which rule or hold keeps them).
    """

    table_id: int
    action: str
    reason: str = ""
    # Rows kept from a ``delete`` or ``mask``: (timestamp column, cutoff) pairs, the column as a sweep
    # takes it. A row whose timestamp is on or after any cutoff (or is null) is kept and counted;
    # only rows older than every cutoff are deleted or masked (a legal obligation keeps the rows
    # still inside its period). SQL systems only.
    keep_newer: tuple[tuple[str, datetime], ...] = ()


@dataclass(frozen=True)
class ErasurePlan:
    """The per-table actions for one subject in one system, in the order given.

    Build it with the tables of a system; ``Connector.erase`` applies it child
    tables before parents whatever order the tables are listed in.
    """

    tables: list[TablePlan] = field(default_factory=list)

    def for_table(self, table_id: int) -> TablePlan | None:
        return next((t for t in self.tables if t.table_id == table_id), None)


@dataclass(frozen=True)
class TableCount:
    table_id: int
    table_name: str
    rows: int


@dataclass(frozen=True)
class ErasureOutcome:
    """Counts of one table's erasure: rows deleted, rows masked, rows kept."""

    table_id: int
    table_name: str
    deleted: int = 0
    masked: int = 0
    kept: int = 0
    reason: str = ""
    # The latest timestamp among the rows kept by ``keep_newer`` (when the first column is the table's own).
    kept_latest: datetime | None = None


@dataclass(frozen=True)
class SweepBatch:
    """One batch of a retention sweep, done in one short transaction.

    ``checkpoint`` is the last primary key the batch looked at (resume after it);
    ``done`` says there is nothing older than the cutoff left after it.
    ``keys_sha256`` is the SHA-256 (hex) of the affected primary keys of this
    batch, in key order, as text joined by commas (a key of several columns as
    its columns' texts joined by ``|``, its checkpoint a JSON list of them);
    callers chain the digests of successive batches into the run's evidence.
    """

    matched: int
    affected: int
    skipped_held: int
    checkpoint: str | None
    keys_sha256: str
    done: bool
    duration_ms: float = 0.0


@dataclass
class BatchSizer:
    """How many keys the next sweep batch takes, from how long the last one took.

    A fixed batch size is either slow (a small batch pays its fixed costs, the bound, the commit and the
    evidence, thousands of times) or long (a large batch on a wide or heavily referenced table holds its
    locks for seconds). The sizer aims each batch at ``target_ms``: from ``start`` keys it grows (at most
    doubling) while batches are quicker than the target, shrinks (at most to a quarter) when one is slower,
    and never goes past ``ceiling`` (the rule's batch size: the most keys one batch may take) nor below
    ``floor``. ``target_ms=None`` keeps every batch at ``ceiling``, as before.
    """

    ceiling: int
    target_ms: float | None = None
    start: int = 1000
    floor: int = 100
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = self.ceiling if self.target_ms is None else min(self.ceiling, self.start)

    def record(self, duration_ms: float) -> int:
        """Take the last batch's duration into account; return the next batch's size."""
        if self.target_ms is None:
            return self.size
        proposed = self.size * self.target_ms / max(duration_ms, 0.1)
        proposed = min(max(proposed, self.size / 4), self.size * 2)
        self.size = int(min(self.ceiling, max(min(self.floor, self.ceiling), proposed)))
        return self.size


class Connector(abc.ABC):
    """The four operations every kind of system of record supports."""

    def __init__(self, system: SystemOfRecord) -> None:
        self.system = system

    @abc.abstractmethod
    def locate(self, subject: Subject) -> list[TableCount]:
        """Per mapped table, how many rows belong to ``subject``."""

    @abc.abstractmethod
    def export(self, subject: Subject, sink: ExportSink) -> list[TableCount]:
        """Stream every mapped row of ``subject`` into ``sink``, one table at a time.

        Memory must not grow with the subject's data (server-side cursors, COPY).
        Returns the row count of each table.
        """

    @abc.abstractmethod
    def erase(self, subject: Subject, plan: ErasurePlan) -> list[ErasureOutcome]:
        """Apply ``plan`` to ``subject``'s rows, child tables before parents.

        Each table in its own transaction; running it again after a success or a
        crash changes nothing more (rows already deleted or masked are not found
        or not changed again).
        """

    @abc.abstractmethod
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
        """Delete (``action="delete"``) or anonymise (``"anonymise"``: the map's column
        treatments) up to ``batch_size`` rows of ``table`` whose ``timestamp_column``
        is strictly before ``cutoff`` and whose key is after ``checkpoint``, in key
        order, in one transaction. Rows of ``held_subjects`` are skipped and counted.
        (The SQL connector's batch is the next ``batch_size`` keys after the checkpoint,
        acting on the rows among them that are older than the cutoff.)

        ``timestamp_column`` is a column of ``table``, or ``"<table>.<column>"`` naming
        a timestamp of a table on its join path (sweep support messages by their
        ticket's ``closed_at``: ``"support_tickets.closed_at"``) or of the account
        table the subject key leads to (API keys by ``"accounts.closed_at"``); rows
        whose timestamp is null are never swept.
        """

    def sweep(
        self,
        table: MappedTable,
        *,
        timestamp_column: str,
        cutoff: datetime,
        action: str,
        checkpoint: str | None,
        batch_size: int,
        held_subjects: list[Subject] | None = None,
        target_ms: float | None = None,
    ) -> Iterator[SweepBatch]:
        """Batches until done; the caller records each batch's checkpoint before asking for the next.

        With ``target_ms``, ``batch_size`` is the most keys a batch may take and each batch is sized to last
        about ``target_ms`` (``BatchSizer``); without it every batch takes ``batch_size`` keys.
        """
        sizer = BatchSizer(ceiling=batch_size, target_ms=target_ms)
        while True:
            batch = self.sweep_batch(
                table,
                timestamp_column=timestamp_column,
                cutoff=cutoff,
                action=action,
                checkpoint=checkpoint,
                batch_size=sizer.size,
                held_subjects=held_subjects,
            )
            yield batch
            if batch.done:
                return
            checkpoint = batch.checkpoint
            sizer.record(batch.duration_ms)

    def sweep_counts(
        self,
        table: MappedTable,
        *,
        timestamp_column: str,
        cutoff: datetime,
        action: str,
        subject_groups: Sequence[Sequence[Subject]] = (),
    ) -> list[int]:
        """``[rows, rows of group 1, rows of group 2, ...]``: what a sweep with these arguments would act on,
        holds aside, for the dry run that starts every retention run.

        ``rows`` counts every row the sweep would delete or anonymise (for ``anonymise``, rows already
        anonymised are left out, as the sweep leaves them); each further figure counts those rows
        belonging to one group of subjects (what the holds naming them keep). Read-only.
        """
        raise ConnectorError(f"{self.system.get_kind_display()} systems cannot count rows for a retention dry run.")

    def account_emails(self, account_ref: str) -> set[str] | None:
        """The email address(es) account ``account_ref`` has in this system, lower-cased. Read-only.

        An empty set: the system has no such account. ``None``: this system cannot
        tell (it names no account table, or it is not a database the back office
        reads). Fulfilment uses it to check that an account reference belongs to the
        requester whose identity was verified (identity binds identifiers).
        """
        return None

    def restrict(
        self, subject: Subject, *, restricted: bool = True, table_ids: Sequence[int] | None = None
    ) -> list[TableCount]:
        """Set (or clear) the subject's restriction flag (Art. 18) where the map names one.

        Returns, per table with a ``restriction_flag_column`` (of ``table_ids`` when given), how many rows
        changed.
        """
        raise ConnectorError(f"{self.system.get_kind_display()} systems cannot restrict processing")

    def sample_subjects(self, limit: int) -> list[Subject]:
        """Up to ``limit`` subjects this system knows, with both keys where it has them.

        Used by the demo to tie rights requests to real platform accounts and by
        tests; a system that cannot list its subjects says so.
        """
        raise ConnectorError(f"{self.system.get_kind_display()} systems cannot list their subjects")
