"""A data map of the sample platform's tables and helpers to put precise rows in them.

The end-to-end tests act on the real sample platform schema (its own database)
through the real SQL connector; the rows they need are written here with known
ids and timestamps so each test can say exactly which rows go and which stay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from compliance.models import ColumnTreatment, DataCategory, MappedColumn, MappedTable, SystemOfRecord
from retention.models import EMPTY_EVIDENCE, RetentionRun
from retention.services.runs import chain_evidence
from sample_platform import models as pm


@dataclass
class PlatformMap:
    system: SystemOfRecord
    tables: dict[str, MappedTable]
    columns: dict[str, MappedColumn]


def _col(columns, table, name, category=None, *, treatment=ColumnTreatment.KEEP, timestamp=False):
    columns[f"{table.table_name}.{name}"] = MappedColumn.objects.create(
        table=table,
        name=name,
        data_category=DataCategory.objects.get(slug=category) if category else None,
        not_personal=category is None,
        treatment=treatment,
        is_timestamp=timestamp,
    )


def build_platform_map(slug: str = "studio-test", alias: str = "platform") -> PlatformMap:
    system = SystemOfRecord.objects.create(
        name=f"Platform ({slug})", slug=slug, owner="Platform team", kind="sql", database_alias=alias
    )
    t = {}
    c: dict[str, MappedColumn] = {}
    t["accounts"] = MappedTable.objects.create(
        system=system,
        table_name="accounts",
        subject_column="id",
        subject_key="account_id",
        account_email_column="email",
    )
    for name, tables_args in {
        "api_requests": {"subject_column": "account_id", "subject_key": "account_id"},
        "visitor_events": {"subject_column": "account_id", "subject_key": "account_id"},
        "invoices": {"subject_column": "account_id", "subject_key": "account_id"},
        "support_tickets": {"subject_column": "requester_email", "subject_key": "email"},
    }.items():
        t[name] = MappedTable.objects.create(system=system, table_name=name, **tables_args)
    t["support_messages"] = MappedTable.objects.create(
        system=system, table_name="support_messages", parent=t["support_tickets"], parent_column="ticket_id"
    )
    _col(c, t["accounts"], "email", "account-identity", treatment=ColumnTreatment.HASH)
    _col(c, t["accounts"], "name", "account-identity", treatment=ColumnTreatment.REDACT)
    _col(c, t["accounts"], "created_at", timestamp=True)
    _col(c, t["accounts"], "closed_at", timestamp=True)
    _col(c, t["api_requests"], "ip_address", "api-usage", treatment=ColumnTreatment.NULL)
    _col(c, t["api_requests"], "user_agent", "api-usage", treatment=ColumnTreatment.NULL)
    _col(c, t["api_requests"], "model_id")
    _col(c, t["api_requests"], "prompt_tokens")
    _col(c, t["api_requests"], "completion_tokens")
    _col(c, t["api_requests"], "cost")
    _col(c, t["api_requests"], "created_at", timestamp=True)
    _col(c, t["visitor_events"], "ip_address", "api-usage", treatment=ColumnTreatment.DELETE_ROW)
    _col(c, t["visitor_events"], "created_at", timestamp=True)
    _col(c, t["invoices"], "billing_name", "billing-transactions")
    _col(c, t["invoices"], "issued_at", timestamp=True)
    _col(c, t["support_tickets"], "subject", "support", treatment=ColumnTreatment.DELETE_ROW)
    _col(c, t["support_tickets"], "closed_at", timestamp=True)
    _col(c, t["support_messages"], "body", "support", treatment=ColumnTreatment.DELETE_ROW)
    _col(c, t["support_messages"], "created_at", timestamp=True)
    return PlatformMap(system, t, c)


def account(pk: int, *, created: datetime, closed: datetime | None = None) -> pm.Account:
    return pm.Account.objects.create(
        pk=pk, email=f"person{pk}@example.com", name=f"Person {pk}", created_at=created, closed_at=closed
    )


def api_request(pk: int, account_id: int, created: datetime) -> pm.ApiRequest:
    return pm.ApiRequest.objects.create(
        pk=pk,
        account_id=account_id,
        model_id="openai/gpt-4o-mini",
        prompt_tokens=100 + pk,
        completion_tokens=50,
        cost=Decimal("0.000123"),
        ip_address=f"203.0.113.{pk % 250}",
        user_agent="python-requests/2.32.3",
        status_code=200,
        created_at=created,
    )


def visitor_events(rows: list[tuple[int, int | None, datetime]]) -> None:
    pm.VisitorEvent.objects.bulk_create(
        pm.VisitorEvent(
            pk=pk,
            anonymous_id=f"anon-{pk}",
            account_id=account_id,
            ip_address="198.51.100.7",
            user_agent="Mozilla/5.0",
            page="/pricing",
            created_at=created,
        )
        for pk, account_id, created in rows
    )


def ids(model) -> list[int]:
    return list(model.objects.order_by("pk").values_list("pk", flat=True))


def reset_sequences() -> None:
    """Explicit ids leave sequences behind; move them on so the seed command can add rows too."""
    from django.core.management.color import no_style

    connection = connections["platform"]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [pm.Account, pm.ApiRequest, pm.VisitorEvent]):
            cursor.execute(sql)


def digest(keys) -> str:
    """The connector's per-batch evidence: SHA-256 of the keys in order, joined by commas."""
    return hashlib.sha256(",".join(str(k) for k in keys).encode()).hexdigest()


# Sweeps across real transactions (the lock, the lease and the transaction-status check only mean
# something there): transactional tests on both databases.
real_db = pytest.mark.django_db(transaction=True, databases=["default", "platform"])


def uninterrupted_evidence(batches) -> str:
    """The evidence chain of a run that swept ``batches`` (lists of keys) without interruption."""
    evidence = EMPTY_EVIDENCE
    for keys in batches:
        evidence = chain_evidence(evidence, digest(keys))
    return evidence


# A sweep big enough that a worker can be killed in the middle of it (tests/retention/test_worker.py,
# tests/reliability/test_database_loss.py): 10,000 old rows, every 97th held, and 50 recent ones.
OLD_ROWS = 10_000
BATCH = 50
HELD_ACCOUNT = 7


def seed_rows() -> None:
    old = timezone.now() - timedelta(days=200)
    rows = [(pk, HELD_ACCOUNT if pk % 97 == 0 else None, old + timedelta(seconds=pk)) for pk in range(1, OLD_ROWS + 1)]
    rows += [(OLD_ROWS + pk, None, timezone.now() - timedelta(days=1)) for pk in range(1, 51)]
    present = set(ids(pm.VisitorEvent))  # the second time, what the first sweep left stays as it is
    visitor_events([row for row in rows if row[0] not in present])


def run_state(run: RetentionRun) -> tuple:
    run.refresh_from_db()
    batches = list(run.batch_records.order_by("number").values_list("number", "affected", "keys_sha256"))
    return run.status, run.rows_affected, run.rows_skipped_held, run.evidence_sha256, batches
