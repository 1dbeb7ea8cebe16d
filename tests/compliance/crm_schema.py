"""A team's own database, written for the discovery tests (not the sample platform).

An "Acme CRM" with its own naming: PascalCase quoted table and column names, a three-level foreign-key
chain (LineNote → OrderLine → Order → Customer), a composite primary key (CustomerSegment), a keyless
log table (AuditLog), a JSON column (Preference.Settings), card numbers and IBANs (Payment), a view
(CustomerCard, over Customer), and the table the map forgot (Newsletter). The same tables on PostgreSQL
(alias ``platform``, created inside the test's transaction) and on in-memory SQLite (alias
``platform_sqlite``, with other tools' declared types: TIMESTAMP, NUMERIC, NVARCHAR(60), JSON). On
PostgreSQL a second schema, ``crm``, holds one more table, ``crm.Contact``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connections

from compliance.datamap import datamap_import
from compliance.models import SystemOfRecord
from tests.compliance.datamap_fixtures import shipped_map

CRM_TABLES = [
    "AuditLog",
    "Customer",
    "CustomerSegment",
    "LineNote",
    "Newsletter",
    "Order",
    "OrderLine",
    "Payment",
    "Preference",
]


def _ddl(vendor: str) -> list[str]:
    pg = vendor == "postgresql"
    ts = "timestamp with time zone" if pg else "TIMESTAMP"
    money = "numeric(10, 2)" if pg else "NUMERIC"
    short = "varchar(60)" if pg else "NVARCHAR(60)"
    json_type = "jsonb" if pg else "JSON"
    serial = "integer PRIMARY KEY" if pg else "INTEGER PRIMARY KEY"
    return [
        f'CREATE TABLE "Customer" ("CustomerId" {serial}, "EmailAddress" varchar(254) NOT NULL UNIQUE, '
        f'"FullName" {short} NULL, "Phone" varchar(30) NULL, "PostCode" varchar(10) NULL, "CreatedAt" {ts} NOT NULL)',
        f'CREATE TABLE "Order" ("OrderId" {serial}, '
        '"CustomerId" integer NOT NULL REFERENCES "Customer" ("CustomerId"), '
        f'"Status" varchar(20) NOT NULL, "Total" {money} NOT NULL, "PlacedAt" {ts} NOT NULL)',
        f'CREATE TABLE "OrderLine" ("OrderLineId" {serial}, "OrderId" integer NOT NULL REFERENCES "Order" ("OrderId"), '
        '"Sku" varchar(20) NOT NULL, "Quantity" integer NOT NULL)',
        f'CREATE TABLE "LineNote" ("LineNoteId" {serial}, '
        '"OrderLineId" integer NOT NULL REFERENCES "OrderLine" ("OrderLineId"), "Body" text NOT NULL)',
        f'CREATE TABLE "Payment" ("PaymentId" {serial}, "OrderId" integer NOT NULL REFERENCES "Order" ("OrderId"), '
        '"CardNumber" varchar(19) NULL, "Iban" varchar(34) NULL, "PayerIp" varchar(45) NULL)',
        'CREATE TABLE "CustomerSegment" ("CustomerId" integer NOT NULL REFERENCES "Customer" ("CustomerId"), '
        '"Segment" varchar(20) NOT NULL, "Since" date NOT NULL, PRIMARY KEY ("CustomerId", "Segment"))',
        f'CREATE TABLE "AuditLog" ("At" {ts} NOT NULL, "ActorEmail" varchar(254) NOT NULL, '
        '"Action" varchar(40) NOT NULL, "ClientIp" varchar(45) NULL)',
        f'CREATE TABLE "Preference" ("PreferenceId" {serial}, '
        f'"CustomerId" integer NOT NULL REFERENCES "Customer" ("CustomerId"), "Settings" {json_type} NULL)',
        f'CREATE TABLE "Newsletter" ("SignupId" {serial}, "Address" varchar(254) NOT NULL, "SignedUpAt" {ts} NOT NULL)',
        'CREATE VIEW "CustomerCard" AS SELECT "CustomerId", "EmailAddress", "FullName" FROM "Customer"',
        *(
            [
                "CREATE SCHEMA crm",
                f'CREATE TABLE crm."Contact" ("ContactId" {serial}, "Email" varchar(254) NOT NULL, "Note" text NULL)',
            ]
            if pg
            else []
        ),
    ]


CUSTOMERS = [
    (1, "ada@example.com", "Ada Lovelace", "+44 20 7946 0018", "SW1A 1AA"),
    (2, "grace@example.org", "Grace Hopper", "+1 202-555-0143", "EC1A 1BB"),
    (3, "alan@example.net", "Alan Turing", "07700 900123", "M1 1AE"),
]


def _rows(vendor: str) -> list[tuple[str, list]]:
    json_settings = '{"digest": "weekly", "cc": "ada.personal@example.com"}'
    rows: list[tuple[str, list]] = []
    for cid, email, name, phone, postcode in CUSTOMERS:
        rows.append(
            (
                'INSERT INTO "Customer" ("CustomerId", "EmailAddress", "FullName", "Phone", "PostCode", "CreatedAt") '
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [cid, email, name, phone, postcode, f"2026-01-0{cid} 10:00:00+00:00"],
            )
        )
        rows.append(
            (
                'INSERT INTO "Order" ("OrderId", "CustomerId", "Status", "Total", "PlacedAt") '
                "VALUES (%s, %s, %s, %s, %s)",
                [cid, cid, "paid", "12.50", f"2026-02-0{cid} 10:00:00+00:00"],
            )
        )
        rows.append(
            (
                'INSERT INTO "OrderLine" ("OrderLineId", "OrderId", "Sku", "Quantity") VALUES (%s, %s, %s, %s)',
                [cid, cid, f"SKU-{cid:03d}", 2],
            )
        )
        rows.append(
            (
                'INSERT INTO "LineNote" ("LineNoteId", "OrderLineId", "Body") VALUES (%s, %s, %s)',
                [cid, cid, "Please leave the parcel with the neighbour at number four if nobody is at home"],
            )
        )
        rows.append(
            (
                'INSERT INTO "Payment" ("PaymentId", "OrderId", "CardNumber", "Iban", "PayerIp") '
                "VALUES (%s, %s, %s, %s, %s)",
                [cid, cid, "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", f"203.0.113.{cid}"],
            )
        )
        rows.append(
            (
                'INSERT INTO "CustomerSegment" ("CustomerId", "Segment", "Since") VALUES (%s, %s, %s)',
                [cid, "retail", "2026-01-01"],
            )
        )
        rows.append(
            (
                'INSERT INTO "AuditLog" ("At", "ActorEmail", "Action", "ClientIp") VALUES (%s, %s, %s, %s)',
                ["2026-03-01 09:00:00+00:00", email, "login", f"198.51.100.{cid}"],
            )
        )
        rows.append(
            (
                'INSERT INTO "Preference" ("PreferenceId", "CustomerId", "Settings") VALUES (%s, %s, %s)',
                [cid, cid, json_settings],
            )
        )
        rows.append(
            (
                'INSERT INTO "Newsletter" ("SignupId", "Address", "SignedUpAt") VALUES (%s, %s, %s)',
                [cid, email, "2026-01-05 10:00:00+00:00"],
            )
        )
        if vendor == "postgresql":
            rows.append(
                (
                    'INSERT INTO crm."Contact" ("ContactId", "Email", "Note") VALUES (%s, %s, %s)',
                    [cid, email, "Met at the trade fair"],
                )
            )
    # A second segment for the first two customers: the composite key (CustomerId, Segment) is what differs.
    for cid in (1, 2):
        rows.append(
            (
                'INSERT INTO "CustomerSegment" ("CustomerId", "Segment", "Since") VALUES (%s, %s, %s)',
                [cid, "vip", "2026-02-01"],
            )
        )
    return rows


# The map a team writes by hand for it, before discovery: it forgets the Newsletter table and leaves the
# log, the segments and the preferences out too. (Discovery finds them.)
def crm_map(alias: str, slug: str) -> dict:
    def col(name, **extra):
        return {"name": name, **extra}

    return {
        "version": 1,
        "systems": [
            {
                "slug": slug,
                "name": f"Acme CRM ({alias})",
                "owner": "CRM team",
                "kind": "sql",
                "database_alias": alias,
                "tables": [
                    {
                        "name": "Customer",
                        "subject_column": "CustomerId",
                        "subject_key": "account_id",
                        "account_email_column": "EmailAddress",
                        "columns": [
                            col("CustomerId", category="account-identity"),
                            col("EmailAddress", category="account-identity", treatment="hash"),
                            col("FullName", category="account-identity", treatment="redact"),
                            col("Phone", category="account-identity", treatment="null"),
                            col("PostCode", category="account-identity", treatment="null"),
                            col("CreatedAt", not_personal=True, timestamp=True),
                        ],
                    },
                    {
                        "name": "Order",
                        "subject_column": "CustomerId",
                        "subject_key": "account_id",
                        "columns": [
                            col("OrderId", not_personal=True),
                            col("CustomerId", category="billing-transactions"),
                            col("Status", not_personal=True),
                            col("Total", category="billing-transactions"),
                            col("PlacedAt", not_personal=True, timestamp=True),
                        ],
                    },
                    {
                        "name": "OrderLine",
                        "parent": "Order",
                        "parent_column": "OrderId",
                        "columns": [
                            col("OrderLineId", not_personal=True),
                            col("OrderId", not_personal=True),
                            col("Sku", not_personal=True),
                            col("Quantity", not_personal=True),
                        ],
                    },
                    {
                        "name": "LineNote",
                        "parent": "OrderLine",
                        "parent_column": "OrderLineId",
                        "columns": [
                            col("LineNoteId", not_personal=True),
                            col("OrderLineId", not_personal=True),
                            col("Body", category="content", treatment="redact"),
                        ],
                    },
                    {
                        # A view: located and exported through it, never written (its rows are Customer's).
                        "name": "CustomerCard",
                        "subject_column": "CustomerId",
                        "subject_key": "account_id",
                        "columns": [
                            col("CustomerId", category="account-identity"),
                            col("EmailAddress", category="account-identity"),
                            col("FullName", category="account-identity"),
                        ],
                    },
                    {
                        "name": "Payment",
                        "parent": "Order",
                        "parent_column": "OrderId",
                        "columns": [
                            col("PaymentId", not_personal=True),
                            col("OrderId", not_personal=True),
                            col("CardNumber", category="billing-transactions", treatment="redact"),
                            col("Iban", category="billing-transactions", treatment="redact"),
                            col("PayerIp", category="api-usage", treatment="null"),
                        ],
                    },
                    *([CONTACT] if connections[alias].vendor == "postgresql" else []),
                ],
            }
        ],
    }


# The table of the second PostgreSQL schema, mapped by its qualified name.
CONTACT = {
    "name": "crm.Contact",
    "subject_column": "Email",
    "subject_key": "email",
    "columns": [
        {"name": "ContactId", "not_personal": True},
        {"name": "Email", "category": "account-identity", "treatment": "delete_row"},
        {"name": "Note", "category": "content", "treatment": "redact"},
    ],
}


@dataclass
class Crm:
    alias: str
    vendor: str
    system: SystemOfRecord

    def sql(self, statement: str, params=None) -> list[tuple]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(statement, params or [])
            return cursor.fetchall() if cursor.description else []


def _create(alias: str) -> None:
    connection = connections[alias]
    with connection.cursor() as cursor:
        for statement in _ddl(connection.vendor):
            cursor.execute(statement)
        for statement, params in _rows(connection.vendor):
            cursor.execute(statement, params)


@pytest.fixture
def crm_pg(datamap_baseline) -> Crm:
    """The CRM on PostgreSQL beside the sample platform's tables (mapped by the shipped map, so only the
    CRM's own tables are new); created inside the test's transaction, gone after it."""
    _create("platform")
    datamap_import(shipped_map())
    datamap_import(crm_map("platform", "acme-crm"))
    return Crm("platform", "postgresql", SystemOfRecord.objects.get(slug="acme-crm"))


@pytest.fixture
def crm_sqlite(sqlite_platform_schema, datamap_baseline) -> Crm:
    _create("platform_sqlite")
    datamap_import(shipped_map("studio-platform-sqlite", "platform_sqlite"))
    datamap_import(crm_map("platform_sqlite", "acme-crm-sqlite"))
    return Crm("platform_sqlite", "sqlite", SystemOfRecord.objects.get(slug="acme-crm-sqlite"))


@pytest.fixture(params=["postgresql", "sqlite"])
def crm(request, sqlite_platform_schema) -> Crm:
    return request.getfixturevalue("crm_pg" if request.param == "postgresql" else "crm_sqlite")
