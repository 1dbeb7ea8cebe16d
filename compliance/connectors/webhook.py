"""The webhook connector: a system that does the work itself, asked by a signed HTTP POST.

Protocol (also in docs/data-map.md, for the teams that build receivers):

Request: ``POST <webhook_url>`` with a JSON body ``{"operation": ..., "system":
<slug>, "idempotency_key": ..., ...parameters}`` and the headers

- ``X-Studio-Timestamp``: Unix time in seconds when the message was signed;
- ``X-Studio-Signature``: ``v1=`` and the hex HMAC-SHA256, under the system's
  shared secret, of ``<timestamp>.<body>`` (the exact bytes sent);
- ``X-Studio-Idempotency-Key``: the same key for the same work, so a retried
  request is recognised and not done twice.

The receiver refuses a signature that does not match, and a timestamp more than
``WEBHOOK_REPLAY_WINDOW_SECONDS`` away from its clock (a replayed message).
Its response is signed the same way (same headers, over the response body) and
the connector checks it just as strictly. A ``200`` carries the result
(``{"status": "done", ...}``); a ``202`` (``{"status": "accepted", "job": id}``)
says the work is under way: the connector raises ``ConnectorPending`` and the
same call later (same idempotency key) returns the result.

Connection errors, timeouts, ``429`` and ``5xx`` are retried with exponential
backoff (``WEBHOOK_MAX_ATTEMPTS``, ``WEBHOOK_RETRY_BACKOFF_SECONDS``, honouring
``Retry-After``); other answers fail at once. Errors never quote the response
body, which could contain personal data.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import requests
from django.conf import settings

from compliance.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorPending,
    ErasureOutcome,
    ErasurePlan,
    ExportSink,
    Subject,
    SweepBatch,
    TableCount,
)
from compliance.models import MappedTable, SystemOfRecord
from compliance.spreadsheet import FORMULA_PREFIXES

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Studio-Timestamp"
SIGNATURE_HEADER = "X-Studio-Signature"
IDEMPOTENCY_HEADER = "X-Studio-Idempotency-Key"
SIGNATURE_VERSION = "v1"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_BACKOFF_SECONDS = 60.0


class SignatureError(ConnectorError):
    """A signed message failed verification (wrong signature, missing headers, outside the replay window)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Studio-Signature`` value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes | None = None,
    mac: Any = None,
    now: float | None = None,
    window: int | None = None,
) -> None:
    """Check a signed message; raise ``SignatureError`` unless it is authentic and fresh.

    Give either the ``body`` or a ``mac`` already fed with it (``signing_mac``), for
    bodies streamed to disk. Receivers can use this function as it is.
    """
    if not timestamp or not signature:
        raise SignatureError("The message is not signed.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError("The message timestamp is not a number.") from None
    window = settings.WEBHOOK_REPLAY_WINDOW_SECONDS if window is None else window
    now = time.time() if now is None else now
    if abs(now - sent_at) > window:
        raise SignatureError("The message timestamp is outside the replay window.")
    if mac is None:
        mac = signing_mac(secret, sent_at)
        mac.update(body or b"")
    expected = f"{SIGNATURE_VERSION}={mac.hexdigest()}"
    offered = [part.strip() for part in signature.split(",")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("The message signature does not match.")


def signing_mac(secret: str, timestamp: int) -> hmac.HMAC:
    """An HMAC ready to be fed the body in pieces (same result as ``sign``)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode(), hashlib.sha256)


def backoff_delays(attempts: int, base: float) -> list[float]:
    """The waits between ``attempts`` tries: base, 2×base, 4×base... capped at a minute."""
    return [min(base * (2**n), MAX_BACKOFF_SECONDS) for n in range(max(0, attempts - 1))]


def _subject_payload(subject: Subject) -> dict[str, str | None]:
    return {"account_ref": subject.account_ref, "email": subject.key_for("email") if subject.email else None}


class WebhookConnector(Connector):
    """Asks the remote system to locate, export, erase, restrict or sweep, and checks its signed answer."""

    # Replaced in tests that count waits instead of sleeping; production sleeps for real.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, system: SystemOfRecord) -> None:
        super().__init__(system)
        if not system.webhook_url:
            raise ConnectorError(f"System {system.slug!r} has no webhook URL.")
        secrets = getattr(settings, "WEBHOOK_SECRETS", {})
        secret = secrets.get(system.webhook_secret_setting)
        if not secret:
            raise ConnectorError(
                f"The webhook secret {system.webhook_secret_setting!r} of system {system.slug!r} is not configured."
            )
        self.secret = secret
        self._session = requests.Session()

    # -- transport -----------------------------------------------------------------------------

    def _idempotency_key(self, operation: str, payload: dict[str, Any]) -> str:
        canonical = json.dumps([self.system.slug, operation, payload], sort_keys=True, separators=(",", ":"))
        return hmac.new(settings.COMPLIANCE_HMAC_KEY.encode(), canonical.encode(), hashlib.sha256).hexdigest()

    def _post(self, operation: str, payload: dict[str, Any], *, stream: bool = False) -> requests.Response:
        """POST with retries; returns a 200 or 202 response whose signature has not been checked yet."""
        key = self._idempotency_key(operation, payload)
        body = json.dumps(
            {"operation": operation, "system": self.system.slug, "idempotency_key": key, **payload},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        attempts = settings.WEBHOOK_MAX_ATTEMPTS
        delays = backoff_delays(attempts, settings.WEBHOOK_RETRY_BACKOFF_SECONDS)
        where = f"{self.system.slug} webhook ({operation})"
        for attempt in range(attempts):
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                IDEMPOTENCY_HEADER: key,
            }
            retry_after = None
            try:
                response = self._session.post(
                    self.system.webhook_url,
                    data=body,
                    headers=headers,
                    timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                    stream=stream,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                problem = f"cannot reach the system ({type(exc).__name__})"
            else:
                if response.status_code in (200, 202):
                    return response
                problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After")
                response.close()
                if response.status_code not in RETRY_STATUSES:
                    raise ConnectorError(f"{where}: the system refused the request ({problem}).")
            logger.warning("%s attempt %d of %d failed: %s", where, attempt + 1, attempts, problem)
            if attempt + 1 < attempts:
                delay = delays[attempt]
                if retry_after and retry_after.isdigit():
                    delay = min(max(delay, float(retry_after)), MAX_BACKOFF_SECONDS)
                self.sleep(delay)
        raise ConnectorError(f"{where}: {problem} after {attempts} attempts.")

    def _json_result(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._post(operation, payload)
        body = response.content
        verify(
            self.secret,
            timestamp=response.headers.get(TIMESTAMP_HEADER),
            signature=response.headers.get(SIGNATURE_HEADER),
            body=body,
        )
        try:
            result = json.loads(body)
        except ValueError:
            raise ConnectorError(f"{self.system.slug} webhook ({operation}): the answer is not JSON.") from None
        if not isinstance(result, dict):
            raise ConnectorError(f"{self.system.slug} webhook ({operation}): the answer is not a JSON object.")
        return self._done_or_pending(operation, response.status_code, result)

    def _done_or_pending(self, operation: str, status_code: int, result: dict[str, Any]) -> dict[str, Any]:
        if status_code == 202 or result.get("status") == "accepted":
            job = str(result.get("job") or "")[:64] or "unnamed"
            raise ConnectorPending(
                f"{self.system.slug} webhook ({operation}): the system accepted the job {job} and works on it; "
                "run the step again later for its result.",
                reference=f"webhook job {job}",
            )
        if result.get("status") != "done":
            raise ConnectorError(f"{self.system.slug} webhook ({operation}): the answer has no 'done' status.")
        return result

    # -- results --------------------------------------------------------------------------------

    def _mapped(self) -> dict[str, MappedTable]:
        return {table.table_name: table for table in self.system.tables.prefetch_related("columns")}

    def _table_named(self, tables: dict[str, MappedTable], name: Any, operation: str) -> MappedTable:
        table = tables.get(name) if isinstance(name, str) else None
        if table is None:
            raise ConnectorError(f"{self.system.slug} webhook ({operation}): the answer names a table not in the map.")
        return table

    @staticmethod
    def _count(value: Any, operation: str, slug: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConnectorError(f"{slug} webhook ({operation}): a count in the answer is not a whole number.")
        return value

    def _table_counts(self, operation: str, result: dict[str, Any]) -> list[TableCount]:
        tables = self._mapped()
        counts = []
        for entry in result.get("tables") or []:
            table = self._table_named(tables, entry.get("table"), operation)
            counts.append(
                TableCount(table.pk, table.table_name, self._count(entry.get("rows"), operation, self.system.slug))
            )
        return counts

    def locate(self, subject: Subject) -> list[TableCount]:
        result = self._json_result("locate", {"subject": _subject_payload(subject)})
        return self._table_counts("locate", result)

    def restrict(
        self, subject: Subject, *, restricted: bool = True, table_ids: Sequence[int] | None = None
    ) -> list[TableCount]:
        payload: dict[str, Any] = {"subject": _subject_payload(subject), "restricted": restricted}
        if table_ids is not None:  # only these tables: the endpoint is told which
            wanted = set(table_ids)
            payload["tables"] = sorted(t.table_name for t in self._mapped().values() if t.pk in wanted)
        counts = self._table_counts("restrict", self._json_result("restrict", payload))
        return counts if table_ids is None else [count for count in counts if count.table_id in set(table_ids)]

    def erase(self, subject: Subject, plan: ErasurePlan) -> list[ErasureOutcome]:
        tables_by_id = {table.pk: table for table in self._mapped().values()}
        entries = []
        for entry in plan.tables:
            table = tables_by_id.get(entry.table_id)
            if table is None:
                raise ConnectorError(f"Mapped table {entry.table_id} is not part of system {self.system.slug!r}.")
            entries.append({"table": table.table_name, "action": entry.action, "reason": entry.reason})
        result = self._json_result("erase", {"subject": _subject_payload(subject), "plan": entries})
        tables = self._mapped()
        outcomes = []
        for entry in result.get("tables") or []:
            table = self._table_named(tables, entry.get("table"), "erase")
            outcomes.append(
                ErasureOutcome(
                    table.pk,
                    table.table_name,
                    deleted=self._count(entry.get("deleted", 0), "erase", self.system.slug),
                    masked=self._count(entry.get("masked", 0), "erase", self.system.slug),
                    kept=self._count(entry.get("kept", 0), "erase", self.system.slug),
                    reason=str(entry.get("reason") or "")[:255],
                )
            )
        return outcomes

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
        if table.system_id != self.system.pk:
            raise ConnectorError(f"Mapped table {table.pk} is not part of system {self.system.slug!r}.")
        started = time.perf_counter()
        result = self._json_result(
            "sweep",
            {
                "table": table.table_name,
                "timestamp_column": timestamp_column,
                "cutoff": cutoff.isoformat(),
                "action": action,
                "checkpoint": checkpoint,
                "batch_size": batch_size,
                "held_subjects": [_subject_payload(s) for s in held_subjects or []],
            },
        )
        slug = self.system.slug
        digest = result.get("keys_sha256")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ConnectorError(f"{slug} webhook (sweep): the answer has no evidence digest.")
        last = result.get("checkpoint")
        return SweepBatch(
            matched=self._count(result.get("matched"), "sweep", slug),
            affected=self._count(result.get("affected"), "sweep", slug),
            skipped_held=self._count(result.get("skipped_held", 0), "sweep", slug),
            checkpoint=None if last is None else str(last),
            keys_sha256=digest,
            done=bool(result.get("done")),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def export(self, subject: Subject, sink: ExportSink) -> list[TableCount]:
        """The answer is JSON Lines: ``{"table": name, "row": {...}}`` per row, then ``{"status": "done"}``.

        It is spooled to a temporary file while its signature is computed, checked,
        and only then written into the sink, one table and format at a time.
        """
        response = self._post("export", {"subject": _subject_payload(subject)}, stream=True)
        slug = self.system.slug
        with tempfile.TemporaryFile() as spool, response:
            timestamp = response.headers.get(TIMESTAMP_HEADER)
            try:
                mac = signing_mac(self.secret, int(timestamp or ""))
            except ValueError:
                raise SignatureError("The message is not signed.") from None
            for chunk in response.iter_content(1 << 16):
                mac.update(chunk)
                spool.write(chunk)
            verify(self.secret, timestamp=timestamp, signature=response.headers.get(SIGNATURE_HEADER), mac=mac)
            if response.status_code == 202:
                spool.seek(0)
                self._done_or_pending("export", 202, _first_json(spool) or {})
            return self._replay_export(spool, sink, slug)

    def _replay_export(self, spool: IO[bytes], sink: ExportSink, slug: str) -> list[TableCount]:
        tables = self._mapped()
        order: list[str] = []
        headers: dict[str, dict[str, None]] = {}
        # Columns the map withholds from access answers are dropped from what the system sent.
        withheld: dict[str, set[str]] = {}
        rows: dict[str, int] = {}
        finished = False
        for record in _records(spool, slug):
            if record.get("status") == "done":
                finished = True
                continue
            table = self._table_named(tables, record.get("table"), "export")
            row = record.get("row")
            if not isinstance(row, dict):
                raise ConnectorError(f"{slug} webhook (export): a line of the answer has no row.")
            if table.table_name not in headers:
                order.append(table.table_name)
                withheld[table.table_name] = {c.name for c in table.columns.all() if c.access_withheld}
                headers[table.table_name] = {
                    column.name: None for column in table.columns.all() if not column.access_withheld
                }
                rows[table.table_name] = 0
            headers[table.table_name].update(dict.fromkeys(k for k in row if k not in withheld[table.table_name]))
            rows[table.table_name] += 1
        if not finished:
            raise ConnectorError(f"{slug} webhook (export): the answer ended before its 'done' line.")
        formats = tuple(getattr(sink, "formats", ("csv", "jsonl")))
        counts = []
        for name in order:
            table = tables[name]
            columns = list(headers[name])
            for fmt in formats:
                with sink.open_stream(table, fmt) as stream:
                    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
                    try:
                        writer = csv.writer(text) if fmt == "csv" else None
                        if writer:
                            writer.writerow(columns)
                        for record in _records(spool, slug):
                            if record.get("table") != name:
                                continue
                            row = {k: v for k, v in record["row"].items() if k not in withheld[name]}
                            if writer:
                                writer.writerow([_csv_cell(row.get(column)) for column in columns])
                            else:
                                text.write(json.dumps(row, ensure_ascii=False) + "\n")
                        text.flush()
                    finally:
                        text.detach()
            counts.append(TableCount(table.pk, name, rows[name]))
        return counts


def _records(spool: IO[bytes], slug: str) -> Iterator[dict[str, Any]]:
    spool.seek(0)
    for line in spool:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ConnectorError(f"{slug} webhook (export): a line of the answer is not JSON.") from None
        if not isinstance(record, dict):
            raise ConnectorError(f"{slug} webhook (export): a line of the answer is not a JSON object.")
        yield record


def _first_json(spool: IO[bytes]) -> dict[str, Any] | None:
    try:
        value = json.loads(spool.read() or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_PREFIXES) else text
