"""The sample platform with subjects, its data map, a rule keeping invoices, and a small register
(a pytest plugin: ``tests/conftest.py`` registers it).

The fulfilment, browser and security tests run the real SQL connector on the real sample platform
schema (alias ``platform``), with the data map the demo ships (``sample_platform/datamap.yaml``), a
retention rule keeping invoices, and a few subprocessors. The ``platform_*`` helpers read, write and
restore the platform's tables directly (the state the tests compare).

(The data-map tests in ``tests/compliance`` have a ``platform`` fixture of their own, which overrides
this one there.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connections

from compliance.connectors import Subject, get_connector
from compliance.datamap import datamap_import_file
from compliance.models import DataCategory, LegalBasis, MappedColumn, SystemOfRecord
from retention.services import retention_rule_create
from sample_platform.seed import seed_platform
from subprocessors.models import Subprocessor
from tests.support.factories import SubprocessorFactory

PLATFORM_TABLES = [
    "outputs",
    "prompts",
    "api_requests",
    "api_keys",
    "support_messages",
    "support_tickets",
    "wallet_transactions",
    "invoices",
    "visitor_events",
    "accounts",
    "organisations",
]
SCRIPT_PROMPT = '<script>alert("pwned")</script> & "quotes"'


@dataclass
class Platform:
    system: SystemOfRecord
    subject: Subject
    other: Subject


def platform_rows(table: str, *, where: str = "", params=()) -> list[tuple]:
    """Every row of a platform table, in key order (the state the tests compare)."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{table}" {where} ORDER BY id', list(params))
        return cursor.fetchall()


def platform_values(sql: str, params=()) -> list[tuple]:
    with connections["platform"].cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def platform_state() -> dict[str, list[tuple]]:
    return {table: platform_rows(table) for table in PLATFORM_TABLES}


def platform_restore(state: dict[str, list[tuple]]) -> None:
    """Put every platform table back as ``state`` had it, as restoring a backup would."""
    with connections["platform"].cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # foreign keys are checked by the backup's tool
        for table in PLATFORM_TABLES:
            cursor.execute(f'DELETE FROM "{table}"')
        for table, rows in state.items():
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        cursor.execute("SET session_replication_role = DEFAULT")


def platform_execute(sql: str, params=()) -> None:
    with connections["platform"].cursor() as cursor:
        cursor.execute(sql, list(params))


@pytest.fixture
def platform(baseline, officer) -> Platform:
    """The sample platform with a few accounts, its data map, and a rule keeping invoices (UK VAT)."""
    datamap_import_file(settings.BASE_DIR / "sample_platform" / "datamap.yaml")
    seed_platform(accounts=6, requests_per_account=12, seed=7, reset=True)
    system = SystemOfRecord.objects.get(slug="studio-platform")
    subjects = get_connector(system).sample_subjects(6)
    subject, other = subjects[1], subjects[2]
    # A prompt the subject wrote that a browser would run if the bundle's page did not escape it.
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "SELECT id FROM api_requests WHERE account_id = %s ORDER BY id LIMIT 1", [int(subject.account_ref)]
        )
        api_request_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO prompts (api_request_id, content, created_at) VALUES (%s, %s, now()) RETURNING id",
            [api_request_id, SCRIPT_PROMPT],
        )
        prompt_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO outputs (prompt_id, content, finish_reason, created_at) VALUES (%s, %s, 'stop', now())",
            [prompt_id, "I will not run that."],
        )
    invoices = system.tables.get(table_name="invoices")
    retention_rule_create(
        actor=officer,
        name="Invoices: UK VAT records",
        data_category=DataCategory.objects.get(slug="billing-transactions"),
        table=invoices,
        trigger_column=MappedColumn.objects.get(table=invoices, name="issued_at"),
        period=6,
        period_unit="years",
        period_anchor="financial_year_end",
        action="delete",
        justification="Invoices are VAT records.",
        legal_basis=LegalBasis.objects.get(slug="legal-obligation"),
        legal_source="VAT Notice 700/21",
    )
    return Platform(system=system, subject=subject, other=other)


def _vendor(slug: str, categories: list[str], **extra) -> Subprocessor:
    return SubprocessorFactory(
        legal_name=f"{slug.title()} Ltd",
        trading_name=slug.title(),
        slug=slug,
        service_description=f"{slug} services",
        category=extra.pop("category", Subprocessor.Category.CLOUD),
        privacy_contact_email=f"privacy@{slug}.example",
        status=extra.pop("status", Subprocessor.Status.ACTIVE),
        data_categories=DataCategory.objects.filter(slug__in=categories),
        **extra,
    )


@pytest.fixture
def vendors(baseline) -> dict[str, Subprocessor]:
    """Two vendors receiving data an erasure touches, one only billing data (kept), one retired."""
    return {
        "inference": _vendor("inferco", ["content", "api-usage"], category=Subprocessor.Category.AI_INFERENCE),
        "helpdesk": _vendor("helpdesk", ["support", "account-identity"], category=Subprocessor.Category.SUPPORT),
        "payments": _vendor("payco", ["billing-transactions"], category=Subprocessor.Category.PAYMENTS),
        "retired": _vendor("oldco", ["content"], status=Subprocessor.Status.RETIRED),
    }


