"""The SQL connector, row by row against the seeded sample platform, on PostgreSQL and SQLite."""

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections

from compliance.connectors import ConnectorError, ErasurePlan, Subject, TablePlan, get_connector
from compliance.connectors.sql import SQLConnector, keyed_hash
from compliance.datamap import datamap_import
from compliance.models import HASH_PREFIX, REDACTED, MappedColumn, MappedTable, SystemOfRecord
from tests.compliance.datamap_fixtures import (
    ANCHOR,
    BOTH_PLATFORMS,
    MemorySink,
    shipped_map,
)

pytestmark = pytest.mark.django_db(databases=BOTH_PLATFORMS)


def _account_with_everything(platform):
    """An account with stored prompts, a ticket with messages and website events."""
    Account = platform.objects("Account")
    for account in Account.order_by("pk"):
        has_prompts = platform.objects("Prompt").filter(api_request__account_id=account.pk).exists()
        has_ticket = platform.objects("SupportTicket").filter(requester_email__iexact=account.email).exists()
        has_events = platform.objects("VisitorEvent").filter(account_id=account.pk).exists()
        if has_prompts and has_ticket and has_events:
            return account
    raise AssertionError("the seed has no account with prompts, a ticket and website events")


def _expected_counts(platform, account):
    o = platform.objects
    tickets = o("SupportTicket").filter(requester_email__iexact=account.email)
    return {
        "organisations": o("Organisation").filter(billing_email__iexact=account.email).count(),
        "accounts": 1,
        "api_keys": o("ApiKey").filter(account_id=account.pk).count(),
        "wallet_transactions": o("WalletTransaction").filter(account_id=account.pk).count(),
        "invoices": o("Invoice").filter(account_id=account.pk).count(),
        "api_requests": o("ApiRequest").filter(account_id=account.pk).count(),
        "prompts": o("Prompt").filter(api_request__account_id=account.pk).count(),
        "outputs": o("Output").filter(prompt__api_request__account_id=account.pk).count(),
        "support_tickets": tickets.count(),
        "support_messages": o("SupportMessage").filter(ticket__in=list(tickets)).count(),
        "visitor_events": o("VisitorEvent").filter(account_id=account.pk).count(),
    }


# -- locate -------------------------------------------------------------------------------------


def test_locate_counts_every_table_of_the_subject_including_join_paths(platform):
    account = _account_with_everything(platform)
    counts = {c.table_name: c.rows for c in platform.connector.locate(Subject(account_ref=str(account.pk)))}
    assert counts == _expected_counts(platform, account)
    assert counts["outputs"] > 0 and counts["support_messages"] > 0


def test_locate_by_email_alone_finds_the_account_and_is_case_insensitive(platform):
    account = _account_with_everything(platform)
    by_id = platform.connector.locate(Subject(account_ref=str(account.pk)))
    by_email = platform.connector.locate(Subject(email=account.email.upper()))
    assert by_email == by_id


def test_locate_finds_a_person_without_an_account_by_their_support_email(platform):
    ticket = platform.objects("SupportTicket").filter(account_id__isnull=True).order_by("pk").first()
    counts = {c.table_name: c.rows for c in platform.connector.locate(Subject(email=ticket.requester_email))}
    assert counts == {
        "organisations": platform.objects("Organisation").filter(billing_email__iexact=ticket.requester_email).count(),
        "support_tickets": platform.objects("SupportTicket").filter(requester_email=ticket.requester_email).count(),
        "support_messages": platform.objects("SupportMessage")
        .filter(ticket__requester_email=ticket.requester_email)
        .count(),
    }


def test_locate_of_an_unknown_or_malformed_subject_finds_nothing(platform):
    assert all(c.rows == 0 for c in platform.connector.locate(Subject(account_ref="999999")))
    # Not an integer: the account id columns are never searched, nothing fails.
    assert platform.connector.locate(Subject(account_ref="12abc")) == []
    injected = platform.connector.locate(Subject(email="x' OR '1'='1"))
    assert all(c.rows == 0 for c in injected)


# -- export -------------------------------------------------------------------------------------


def test_export_writes_exactly_the_subjects_rows_as_jsonl_and_csv(platform):
    account = _account_with_everything(platform)
    sink = MemorySink()
    counts = {c.table_name: c.rows for c in platform.connector.export(Subject(account_ref=str(account.pk)), sink)}
    assert counts == _expected_counts(platform, account)

    requests = [json.loads(line) for line in sink.text("api_requests", "jsonl").splitlines()]
    expected = platform.objects("ApiRequest").filter(account_id=account.pk)
    assert sorted(r["id"] for r in requests) == sorted(expected.values_list("pk", flat=True))
    by_id = {r.pk: r for r in expected}
    for row in requests:
        original = by_id[row["id"]]
        assert row["ip_address"] == original.ip_address
        assert row["model_id"] == original.model_id
        assert row["prompt_tokens"] == original.prompt_tokens
        assert row["account_id"] == account.pk

    outputs = [json.loads(line) for line in sink.text("outputs", "jsonl").splitlines()]
    expected_outputs = platform.objects("Output").filter(prompt__api_request__account_id=account.pk)
    assert sorted(o["id"] for o in outputs) == sorted(expected_outputs.values_list("pk", flat=True))

    rows = list(csv.DictReader(io.StringIO(sink.text("api_requests", "csv"))))
    assert sorted(int(r["id"]) for r in rows) == sorted(by_id)
    mapped = set(platform.table("api_requests").columns.values_list("name", flat=True))
    assert set(rows[0]) == mapped


def test_export_csv_neutralises_spreadsheet_formulas_and_jsonl_keeps_the_text(platform):
    prompt = platform.objects("Prompt").filter(content__startswith="=HYPERLINK").order_by("pk").first()
    account_id = platform.objects("ApiRequest").get(pk=prompt.api_request_id).account_id
    sink = MemorySink()
    platform.connector.export(Subject(account_ref=str(account_id)), sink)
    jsonl = {json.loads(line)["id"]: json.loads(line) for line in sink.text("prompts", "jsonl").splitlines()}
    assert jsonl[prompt.pk]["content"] == prompt.content
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(sink.text("prompts", "csv")))}
    assert rows[prompt.pk]["content"] == "'" + prompt.content


def test_export_honours_the_formats_a_sink_asks_for(platform):
    account = _account_with_everything(platform)
    sink = MemorySink(formats=("jsonl",))
    platform.connector.export(Subject(account_ref=str(account.pk)), sink)
    assert {fmt for _, fmt in sink.data} == {"jsonl"}


def test_export_on_postgresql_streams_in_chunks(pg_platform):
    # One account with enough requests that its export is several chunks long.
    account = _account_with_everything(pg_platform)
    ApiRequest = pg_platform.objects("ApiRequest")
    template = ApiRequest.filter(account_id=account.pk).first()
    start = ApiRequest.order_by("-pk").first().pk + 1
    ApiRequest.bulk_create(
        [
            ApiRequest.model(
                pk=start + n,
                account_id=account.pk,
                model_id=template.model_id,
                prompt_tokens=n,
                completion_tokens=1,
                cost=template.cost,
                ip_address="192.0.2.1",
                user_agent="x" * 200,
                status_code=200,
                created_at=template.created_at,
            )
            for n in range(3000)
        ]
    )
    sink = MemorySink()
    pg_platform.connector.export(Subject(account_ref=str(account.pk)), sink)
    assert len(sink.data[("api_requests", "jsonl")]) > 3 * 65536
    assert sink.writes[("api_requests", "jsonl")] > 3


# -- erase --------------------------------------------------------------------------------------


def _plan(platform, actions):
    return ErasurePlan(
        [TablePlan(platform.table(name).pk, action, reason) for name, (action, reason) in actions.items()]
    )


ERASE_ACTIONS = {
    "accounts": ("mask", ""),
    "api_keys": ("delete", ""),
    "api_requests": ("delete", ""),
    "prompts": ("delete", ""),
    "outputs": ("delete", ""),
    "support_tickets": ("mask", ""),
    "support_messages": ("delete", ""),
    "visitor_events": ("delete", ""),
    "invoices": ("keep", "UK VAT records, 6 years"),
    "wallet_transactions": ("keep", "UK VAT records, 6 years"),
}


def _snapshot(platform, exclude_account):
    """Every other account's rows, to prove they are untouched."""
    o = platform.objects
    theirs = list(o("SupportTicket").filter(requester_email__iexact=exclude_account.email).values_list("pk", flat=True))
    return {
        "api_requests": o("ApiRequest").exclude(account_id=exclude_account.pk).count(),
        "prompts": o("Prompt").exclude(api_request__account_id=exclude_account.pk).count(),
        "outputs": o("Output").exclude(prompt__api_request__account_id=exclude_account.pk).count(),
        "api_keys": o("ApiKey").exclude(account_id=exclude_account.pk).count(),
        "emails": sorted(o("Account").exclude(pk=exclude_account.pk).values_list("email", flat=True)),
        "tickets": sorted(o("SupportTicket").exclude(pk__in=theirs).values_list("requester_email", "subject")),
    }


def test_erase_deletes_and_masks_per_plan_children_first_and_keeps_retained_tables(platform):
    account = _account_with_everything(platform)
    expected = _expected_counts(platform, account)
    tickets = list(platform.objects("SupportTicket").filter(requester_email__iexact=account.email))
    others = _snapshot(platform, account)

    outcomes = platform.connector.erase(Subject(account_ref=str(account.pk)), _plan(platform, ERASE_ACTIONS))

    order = [o.table_name for o in outcomes]
    for child, parent in [
        ("outputs", "prompts"),
        ("prompts", "api_requests"),
        ("api_requests", "accounts"),
        ("support_messages", "support_tickets"),
        ("api_keys", "accounts"),
    ]:
        assert order.index(child) < order.index(parent)
    result = {o.table_name: o for o in outcomes}
    for name in ["api_keys", "api_requests", "prompts", "outputs", "support_messages", "visitor_events"]:
        assert result[name].deleted == expected[name]
    assert result["accounts"].masked == 1
    assert result["support_tickets"].masked == expected["support_tickets"]
    assert result["invoices"].kept == expected["invoices"] and result["invoices"].reason == "UK VAT records, 6 years"

    o = platform.objects
    assert not o("ApiRequest").filter(account_id=account.pk).exists()
    assert not o("VisitorEvent").filter(account_id=account.pk).exists()
    assert o("Invoice").filter(account_id=account.pk).count() == expected["invoices"]
    masked = o("Account").get(pk=account.pk)
    assert masked.email == keyed_hash(account.email)
    assert masked.name == "Erased user"
    assert masked.auth_provider_id is None
    assert masked.role == account.role  # keep
    for ticket in tickets:
        after = o("SupportTicket").get(pk=ticket.pk)
        assert after.requester_email == keyed_hash(ticket.requester_email)
        assert after.subject == REDACTED
        assert after.status == ticket.status
    assert {k: v for k, v in _snapshot(platform, account).items() if k != "tickets"} == {
        k: v for k, v in others.items() if k != "tickets"
    }
    untouched = platform.objects("SupportTicket").exclude(pk__in=[t.pk for t in tickets])
    assert sorted(untouched.values_list("requester_email", "subject")) == others["tickets"]


def test_erase_run_again_changes_nothing_more(platform):
    account = _account_with_everything(platform)
    subject = Subject(account_ref=str(account.pk), email=account.email)
    platform.connector.erase(subject, _plan(platform, ERASE_ACTIONS))
    masked_email = platform.objects("Account").get(pk=account.pk).email

    again = platform.connector.erase(subject, _plan(platform, ERASE_ACTIONS))

    assert all(o.deleted == 0 and o.masked == 0 for o in again)
    assert platform.objects("Account").get(pk=account.pk).email == masked_email


def test_hashes_are_the_same_on_postgresql_and_sqlite(pg_platform, sqlite_platform):
    account = pg_platform.objects("Account").order_by("pk").first()
    plan_pg = _plan(pg_platform, {"accounts": ("mask", "")})
    plan_lite = _plan(sqlite_platform, {"accounts": ("mask", "")})
    pg_platform.connector.erase(Subject(account_ref=str(account.pk)), plan_pg)
    sqlite_platform.connector.erase(Subject(account_ref=str(account.pk)), plan_lite)
    on_pg = pg_platform.objects("Account").get(pk=account.pk).email
    on_sqlite = sqlite_platform.objects("Account").get(pk=account.pk).email
    assert on_pg == on_sqlite == keyed_hash(account.email)
    assert on_pg.startswith(HASH_PREFIX) and len(on_pg) == len(HASH_PREFIX) + 64


def test_erase_refuses_to_delete_parents_whose_children_are_kept_and_changes_nothing(platform):
    account = _account_with_everything(platform)
    before = platform.objects("ApiRequest").filter(account_id=account.pk).count()
    plan = _plan(platform, {"prompts": ("keep", "legal hold"), "api_requests": ("delete", "")})

    with pytest.raises(ConnectorError) as error:
        platform.connector.erase(Subject(account_ref=str(account.pk)), plan)

    assert "api_requests" in str(error.value) and "referenced" in str(error.value)
    assert account.email not in str(error.value)
    assert platform.objects("ApiRequest").filter(account_id=account.pk).count() == before


def test_erase_rejects_tables_of_another_system_and_unknown_actions(pg_platform):
    account = pg_platform.objects("Account").order_by("pk").first()
    with pytest.raises(ConnectorError, match="not part of system"):
        pg_platform.connector.erase(Subject(account_ref=str(account.pk)), ErasurePlan([TablePlan(10**6, "delete")]))
    with pytest.raises(ConnectorError, match="Unknown erasure action"):
        pg_platform.connector.erase(
            Subject(account_ref=str(account.pk)), _plan(pg_platform, {"accounts": ("truncate", "")})
        )


# -- restriction --------------------------------------------------------------------------------


def test_restrict_sets_and_clears_the_flag_once(platform):
    account = platform.objects("Account").order_by("pk").first()
    subject = Subject(email=account.email)
    assert [(c.table_name, c.rows) for c in platform.connector.restrict(subject)] == [("accounts", 1)]
    assert platform.objects("Account").get(pk=account.pk).processing_restricted is True
    assert platform.connector.restrict(subject)[0].rows == 0
    assert platform.connector.restrict(subject, restricted=False)[0].rows == 1
    assert platform.objects("Account").get(pk=account.pk).processing_restricted is False


# -- sweep --------------------------------------------------------------------------------------


def _digest(keys):
    return hashlib.sha256(",".join(str(k) for k in keys).encode()).hexdigest()


def test_sweep_deletes_only_old_rows_in_bounded_batches_with_key_evidence(platform):
    cutoff = ANCHOR - timedelta(days=365)
    events = platform.objects("VisitorEvent")
    old = set(events.filter(created_at__lt=cutoff).values_list("pk", flat=True))
    young = sorted(events.filter(created_at__gte=cutoff).values_list("pk", flat=True))
    assert old and young
    keys = sorted(events.values_list("pk", flat=True))

    batches = list(
        platform.connector.sweep(
            platform.table("visitor_events"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=25,
        )
    )

    # Each batch looks at the next 25 keys and deletes the old rows among them, in one transaction.
    chunks = [keys[i : i + 25] for i in range(0, len(keys), 25)]
    assert sum(b.affected for b in batches) == len(old)
    assert [b.checkpoint for b in batches[: len(chunks)]] == [str(c[-1]) for c in chunks]
    assert [b.keys_sha256 for b in batches[: len(chunks)]] == [_digest([k for k in c if k in old]) for c in chunks]
    assert [b.affected for b in batches[: len(chunks)]] == [len([k for k in c if k in old]) for c in chunks]
    assert batches[-1].done and not any(b.done for b in batches[:-1])
    assert sorted(events.values_list("pk", flat=True)) == young


def test_sweep_skips_and_counts_rows_of_held_subjects(platform):
    cutoff = ANCHOR - timedelta(days=90)
    requests = platform.objects("ApiRequest")
    held_account = requests.filter(created_at__lt=cutoff).order_by("pk").first().account_id
    held_old = requests.filter(account_id=held_account, created_at__lt=cutoff).count()
    # Requests with stored prompts cannot be deleted before their prompts: sweep a table without children.
    platform.connector.sweep_batch(
        platform.table("outputs"),
        timestamp_column="created_at",
        cutoff=ANCHOR + timedelta(days=1),
        action="delete",
        checkpoint=None,
        batch_size=10_000,
    )
    platform.connector.sweep_batch(
        platform.table("prompts"),
        timestamp_column="created_at",
        cutoff=ANCHOR + timedelta(days=1),
        action="delete",
        checkpoint=None,
        batch_size=10_000,
    )
    held_email = platform.objects("Account").get(pk=held_account).email
    total_old = requests.filter(created_at__lt=cutoff).count()

    batches = list(
        platform.connector.sweep(
            platform.table("api_requests"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=40,
            held_subjects=[Subject(email=held_email.upper())],
        )
    )

    assert sum(b.skipped_held for b in batches) == held_old
    assert sum(b.affected for b in batches) == total_old - held_old
    assert requests.filter(created_at__lt=cutoff).count() == held_old
    assert set(requests.filter(created_at__lt=cutoff).values_list("account_id", flat=True)) == {held_account}


def test_sweep_anonymise_applies_the_treatments_once_and_keeps_the_usage_figures(platform):
    cutoff = ANCHOR - timedelta(days=90)
    requests = platform.objects("ApiRequest")
    old = {r.pk: r for r in requests.filter(created_at__lt=cutoff)}

    first = list(
        platform.connector.sweep(
            platform.table("api_requests"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="anonymise",
            checkpoint=None,
            batch_size=50,
        )
    )
    assert sum(b.affected for b in first) == len(old)
    for row in requests.filter(pk__in=list(old)):
        assert (row.ip_address, row.user_agent, row.error) == (None, None, None)
        assert (row.prompt_tokens, row.cost, row.model_id) == (
            old[row.pk].prompt_tokens,
            old[row.pk].cost,
            old[row.pk].model_id,
        )
    assert requests.filter(created_at__gte=cutoff, ip_address__isnull=True).count() == 0

    again = list(
        platform.connector.sweep(
            platform.table("api_requests"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="anonymise",
            checkpoint=None,
            batch_size=50,
        )
    )
    assert sum(b.matched for b in again) == len(old)
    assert sum(b.affected for b in again) == 0
    assert {b.keys_sha256 for b in again} == {_digest([])}


def test_sweep_through_the_join_path_uses_the_parents_timestamp(platform):
    # Half the closed tickets closed before the cutoff, half after.
    closed = sorted(
        platform.objects("SupportTicket").filter(closed_at__isnull=False).values_list("closed_at", flat=True)
    )
    cutoff = closed[len(closed) // 2]
    messages = platform.objects("SupportMessage")
    closed_long_ago = messages.filter(ticket__closed_at__lt=cutoff)
    expected_gone = set(closed_long_ago.values_list("pk", flat=True))
    expected_left = set(messages.values_list("pk", flat=True)) - expected_gone
    assert expected_gone and messages.filter(ticket__closed_at__isnull=True).exists()

    batches = list(
        platform.connector.sweep(
            platform.table("support_messages"),
            timestamp_column="support_tickets.closed_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=7,
        )
    )

    assert sum(b.affected for b in batches) == len(expected_gone)
    assert set(messages.values_list("pk", flat=True)) == expected_left


def test_sweep_by_an_event_of_the_subjects_account(platform):
    # API keys 30 days after their account closed: the account is reached through the subject key.
    cutoff = ANCHOR - timedelta(days=30)
    keys = platform.objects("ApiKey")
    accounts = platform.objects("Account")
    accounts.filter(pk__in=list(accounts.order_by("pk").values_list("pk", flat=True)[:3])).update(
        closed_at=ANCHOR - timedelta(days=60)
    )
    closed_long_ago = set(platform.objects("Account").filter(closed_at__lt=cutoff).values_list("pk", flat=True))
    assert closed_long_ago
    expected_left = set(keys.exclude(account_id__in=closed_long_ago).values_list("pk", flat=True))

    batches = list(
        platform.connector.sweep(
            platform.table("api_keys"),
            timestamp_column="accounts.closed_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=10,
        )
    )

    assert sum(b.affected for b in batches) > 0
    assert set(keys.values_list("pk", flat=True)) == expected_left


def test_sweep_resumed_from_a_checkpoint_ends_like_an_uninterrupted_run(pg_platform, sqlite_platform):
    cutoff = ANCHOR - timedelta(days=200)
    table_pg = pg_platform.table("visitor_events")
    # Uninterrupted on SQLite, interrupted after two batches on PostgreSQL (a new connector resumes).
    whole = list(
        sqlite_platform.connector.sweep(
            sqlite_platform.table("visitor_events"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=9,
        )
    )
    first = pg_platform.connector.sweep(
        table_pg, timestamp_column="created_at", cutoff=cutoff, action="delete", checkpoint=None, batch_size=9
    )
    started = [next(first), next(first)]
    first.close()
    rest = list(
        get_connector(SystemOfRecord.objects.get(pk=pg_platform.system.pk)).sweep(
            table_pg,
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=started[-1].checkpoint,
            batch_size=9,
        )
    )
    resumed = started + rest
    # Same seed, same ids: the evidence is identical across the interruption and across backends.
    assert [b.keys_sha256 for b in resumed] == [b.keys_sha256 for b in whole]
    assert [b.checkpoint for b in resumed] == [b.checkpoint for b in whole]
    assert sorted(pg_platform.objects("VisitorEvent").values_list("pk", flat=True)) == sorted(
        sqlite_platform.objects("VisitorEvent").values_list("pk", flat=True)
    )


def test_a_failing_sweep_batch_changes_nothing(platform):
    # Old API requests with stored prompts cannot go before their prompts: the batch fails as a whole.
    cutoff = ANCHOR - timedelta(days=90)
    requests = platform.objects("ApiRequest")
    before = sorted(requests.values_list("pk", flat=True))
    with pytest.raises(ConnectorError, match="api_requests: rows are still referenced"):
        platform.connector.sweep_batch(
            platform.table("api_requests"),
            timestamp_column="created_at",
            cutoff=cutoff,
            action="delete",
            checkpoint=None,
            batch_size=100_000,
        )
    assert sorted(requests.values_list("pk", flat=True)) == before


# -- subjects -----------------------------------------------------------------------------------


def test_sample_subjects_lists_accounts_with_both_keys(platform):
    subjects = platform.connector.sample_subjects(3)
    accounts = list(platform.objects("Account").order_by("pk")[:3])
    assert subjects == [Subject(account_ref=str(a.pk), email=a.email) for a in accounts]


def test_get_connector_picks_the_sql_connector_and_refuses_inactive_systems(pg_platform):
    assert isinstance(get_connector(pg_platform.system), SQLConnector)
    pg_platform.system.is_active = False
    with pytest.raises(ConnectorError, match="not active"):
        get_connector(pg_platform.system)


# -- identifiers never reach SQL unchecked -------------------------------------------------------


def test_names_smuggled_past_validation_are_refused_by_the_connector(pg_platform):
    # Rows written straight to the database (no clean()): the connector still checks every name.
    evil = MappedTable.objects.create(
        system=pg_platform.system,
        table_name='accounts" WHERE 1=1; DROP TABLE accounts; --',
        subject_column="id",
        subject_key="account_id",
    )
    with pytest.raises(ConnectorError, match="does not exist"):
        pg_platform.connector.locate(Subject(account_ref="1"))
    evil.delete()

    requests = pg_platform.table("api_requests")
    MappedColumn.objects.create(table=requests, name='ip_address" = NULL, "cost', not_personal=True)
    with pytest.raises(ConnectorError, match="not in the database"):
        pg_platform.connector.export(Subject(account_ref="1"), MemorySink())
    assert "accounts" in connections["platform"].introspection.table_names()


def test_sweep_parameters_cannot_carry_sql(platform):
    table = platform.table("visitor_events")
    before = platform.objects("VisitorEvent").count()
    for column in ["created_at < now() OR 1=1 --", "created_at) OR (1=1", "organisations.created_at", "page"]:
        with pytest.raises(ConnectorError):
            platform.connector.sweep_batch(
                table,
                timestamp_column=column,
                cutoff=ANCHOR,
                action="delete",
                checkpoint=None,
                batch_size=10,
            )
    with pytest.raises(ConnectorError, match="not a key"):
        platform.connector.sweep_batch(
            table, timestamp_column="created_at", cutoff=ANCHOR, action="delete", checkpoint="0 OR 1=1", batch_size=10
        )
    with pytest.raises(ConnectorError, match="Unknown sweep action"):
        platform.connector.sweep_batch(
            table, timestamp_column="created_at", cutoff=ANCHOR, action="drop", checkpoint=None, batch_size=10
        )
    assert platform.objects("VisitorEvent").count() == before


def test_same_seed_gives_the_same_rows_on_postgresql_and_sqlite(pg_platform, sqlite_platform):
    def rows(p, name, *fields):
        return list(p.objects(name).order_by("pk").values_list(*fields))

    assert rows(pg_platform, "Account", "pk", "email", "created_at", "closed_at") == rows(
        sqlite_platform, "Account", "pk", "email", "created_at", "closed_at"
    )
    assert rows(pg_platform, "ApiRequest", "pk", "account_id", "created_at", "ip_address") == rows(
        sqlite_platform, "ApiRequest", "pk", "account_id", "created_at", "ip_address"
    )
    assert rows(pg_platform, "Prompt", "pk", "api_request_id", "content") == rows(
        sqlite_platform, "Prompt", "pk", "api_request_id", "content"
    )


@pytest.mark.django_db(databases=BOTH_PLATFORMS, transaction=True)
def test_an_unreachable_database_fails_with_a_clear_pii_free_error(datamap_baseline):
    """A real process whose platform alias points at a closed port: locate and the audit both say so."""
    datamap_import(shipped_map())
    db = connections["default"].settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}",
        "PLATFORM_DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
    }
    script = (
        "import django; django.setup()\n"
        "from compliance.connectors import ConnectorError, Subject, get_connector\n"
        "from compliance.models import SystemOfRecord\n"
        "try:\n"
        "    get_connector(SystemOfRecord.objects.get(slug='studio-platform'))"
        ".locate(Subject(account_ref='1', email='ada@example.com'))\n"
        "except ConnectorError as exc:\n"
        "    print('ConnectorError:', exc)\n"
    )
    located = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert "ConnectorError: Cannot reach database alias 'platform' (OperationalError)." in located.stdout
    assert "ada@example.com" not in located.stdout + located.stderr

    audit = subprocess.run(
        [sys.executable, "manage.py", "datamap_audit"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 1
    assert audit.stdout.splitlines() == ["studio-platform: Cannot reach database alias 'platform' (OperationalError)."]


def test_export_leaves_out_the_columns_the_map_withholds_from_access_answers(platform):
    """The shipped map withholds ``api_keys.key_hash`` (security of the service): neither format carries it,
    on either backend, while the key's other columns are exported."""
    account = _account_with_everything(platform)
    keys = platform.table("api_keys")
    assert keys.columns.get(name="key_hash").access_withheld == "security"
    sink = MemorySink()
    counts = {c.table_name: c.rows for c in platform.connector.export(Subject(account_ref=str(account.pk)), sink)}
    expected = platform.objects("ApiKey").filter(account_id=account.pk)
    assert counts["api_keys"] == expected.count() > 0
    jsonl = [json.loads(line) for line in sink.text("api_keys", "jsonl").splitlines()]
    assert sorted(row["prefix"] for row in jsonl) == sorted(expected.values_list("prefix", flat=True))
    assert all("key_hash" not in row for row in jsonl)
    rows = list(csv.DictReader(io.StringIO(sink.text("api_keys", "csv"))))
    assert set(rows[0]) == set(keys.columns.values_list("name", flat=True)) - {"key_hash"}
    for key_hash in expected.values_list("key_hash", flat=True):
        assert key_hash not in sink.text("api_keys", "jsonl") + sink.text("api_keys", "csv")


def test_a_table_whose_every_column_is_withheld_still_counts_its_rows(platform):
    account = _account_with_everything(platform)
    platform.table("api_keys").columns.update(access_withheld="security")
    sink = MemorySink()
    counts = {c.table_name: c.rows for c in platform.connector.export(Subject(account_ref=str(account.pk)), sink)}
    expected = platform.objects("ApiKey").filter(account_id=account.pk).count()
    assert counts["api_keys"] == expected > 0
    assert sink.text("api_keys", "jsonl").splitlines() == ["{}"] * expected
