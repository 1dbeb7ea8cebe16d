"""A small data map of a SQL system and retention rules on it (a pytest plugin: ``tests/conftest.py``
registers it). Used by the retention tests and the officer pages' browser tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from compliance.models import ColumnTreatment, DataCategory, MappedColumn, MappedTable, SystemOfRecord
from tests.support.factories import RetentionRuleFactory


@dataclass
class MiniMap:
    system: SystemOfRecord
    accounts: MappedTable
    api_requests: MappedTable
    prompts: MappedTable
    invoices: MappedTable
    columns: dict[str, MappedColumn]


def _column(table, name, category=None, *, timestamp=False, treatment=ColumnTreatment.KEEP, not_personal=False):
    return MappedColumn.objects.create(
        table=table,
        name=name,
        data_category=category,
        not_personal=not_personal or category is None,
        is_timestamp=timestamp,
        treatment=treatment,
    )


@pytest.fixture
def minimap(baseline) -> MiniMap:
    """A data map of four tables of a SQL system, classified like the sample platform's."""
    identity = DataCategory.objects.get(slug="account-identity")
    usage = DataCategory.objects.get(slug="api-usage")
    content = DataCategory.objects.get(slug="content")
    billing = DataCategory.objects.get(slug="billing-transactions")
    system = SystemOfRecord.objects.create(
        name="Mini platform", slug="mini", owner="Platform team", kind="sql", database_alias="platform"
    )
    accounts = MappedTable.objects.create(
        system=system, table_name="accounts", subject_column="id", subject_key="account_id"
    )
    api_requests = MappedTable.objects.create(
        system=system, table_name="api_requests", subject_column="account_id", subject_key="account_id"
    )
    prompts = MappedTable.objects.create(
        system=system, table_name="prompts", parent=api_requests, parent_column="api_request_id"
    )
    invoices = MappedTable.objects.create(
        system=system, table_name="invoices", subject_column="account_id", subject_key="account_id"
    )
    columns = {
        "accounts.email": _column(accounts, "email", identity, treatment=ColumnTreatment.HASH),
        "accounts.closed_at": _column(accounts, "closed_at", timestamp=True),
        "api_requests.ip_address": _column(api_requests, "ip_address", usage, treatment=ColumnTreatment.NULL),
        "api_requests.prompt_tokens": _column(api_requests, "prompt_tokens"),
        "api_requests.created_at": _column(api_requests, "created_at", timestamp=True),
        "api_requests.model_id": _column(api_requests, "model_id"),
        "prompts.content": _column(prompts, "content", content, treatment=ColumnTreatment.DELETE_ROW),
        "prompts.created_at": _column(prompts, "created_at", timestamp=True),
        "invoices.billing_name": _column(invoices, "billing_name", billing),
        "invoices.issued_at": _column(invoices, "issued_at", timestamp=True),
    }
    return MiniMap(system, accounts, api_requests, prompts, invoices, columns)


@pytest.fixture
def make_rule(minimap, officer):
    """Create a rule through the service with sensible defaults for the mini map."""

    def make(**overrides):
        table = overrides.pop("table", minimap.api_requests)
        values = {
            "actor": officer,
            "name": f"Rule on {table.table_name} {overrides.get('action', 'delete')}",
            "table": table,
            "trigger_column": minimap.columns.get(f"{table.table_name}.created_at"),
            "owner": officer,
        }
        values.update(overrides)
        return RetentionRuleFactory(**values)

    return make
