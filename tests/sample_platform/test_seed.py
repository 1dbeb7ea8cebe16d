"""The sample platform: its own database, and a reproducible, realistic data generator."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, router

from sample_platform import models as pm
from sample_platform.demo import DEMO_ACCOUNTS, load_demo
from sample_platform.seed import platform_account_count, seed_platform

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

ANCHOR = datetime(2026, 5, 31, tzinfo=UTC)


def _content(*models):
    """Every row of the given tables, as plain values, in key order."""
    rows = {}
    for model in models:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows[model._meta.db_table] = list(model.objects.using("platform").order_by("pk").values_list(*fields))
    return rows


def test_the_platform_lives_on_its_own_database_alias():
    assert router.db_for_write(pm.Account) == "platform"
    assert router.db_for_read(pm.ApiRequest) == "platform"
    assert router.allow_migrate("default", "sample_platform") is False
    assert router.allow_migrate("platform", "compliance") is False
    assert "accounts" in connections["platform"].introspection.table_names()
    assert "accounts" not in connections["default"].introspection.table_names()


def test_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    models = (pm.Account, pm.ApiRequest, pm.Prompt, pm.Invoice, pm.SupportMessage)
    seed_platform(accounts=12, requests_per_account=20, seed=3, anchor=ANCHOR, reset=True)
    first = _content(*models)
    seed_platform(accounts=12, requests_per_account=20, seed=3, anchor=ANCHOR, reset=True)
    assert _content(*models) == first
    seed_platform(accounts=12, requests_per_account=20, seed=4, anchor=ANCHOR, reset=True)
    assert _content(*models) != first


def test_seeded_data_spreads_over_years_with_closed_accounts_and_open_and_closed_tickets():
    counts = seed_platform(accounts=200, requests_per_account=10, seed=1, anchor=ANCHOR, years=4, reset=True)

    assert counts.rows["accounts"] == 200 and counts.rows["api_requests"] == 2000
    requests = pm.ApiRequest.objects.using("platform")
    oldest = requests.order_by("created_at").first().created_at
    assert oldest < ANCHOR - timedelta(days=3 * 365)
    assert requests.filter(created_at__lt=ANCHOR - timedelta(days=90)).count() > 1000
    assert requests.filter(created_at__gte=ANCHOR - timedelta(days=90)).exists()
    assert not requests.filter(created_at__gt=ANCHOR).exists()
    accounts = pm.Account.objects.using("platform")
    closed = accounts.filter(closed_at__isnull=False)
    assert 5 <= closed.count() <= 40
    for account in closed[:10]:
        assert not requests.filter(account=account, created_at__gt=account.closed_at).exists()
    tickets = pm.SupportTicket.objects.using("platform")
    assert tickets.filter(status="closed", closed_at__isnull=False).exists()
    assert tickets.filter(status="open", closed_at__isnull=True).exists()
    assert tickets.filter(account__isnull=True).exists()  # people without an account write in too
    assert pm.Prompt.objects.using("platform").count() == counts.rows["prompts"] > 100
    assert pm.VisitorEvent.objects.using("platform").filter(account__isnull=True).exists()
    # Every account starts with a top-up, and nothing is debited before it.
    for account in accounts.order_by("pk")[:20]:
        first = pm.WalletTransaction.objects.using("platform").filter(account=account).order_by("created_at").first()
        assert first.kind == "top_up"


def test_seeding_appends_and_leaves_the_keys_usable_by_the_application():
    seed_platform(accounts=5, requests_per_account=3, seed=1, anchor=ANCHOR, reset=True)
    seed_platform(accounts=5, requests_per_account=3, seed=2, anchor=ANCHOR)
    assert pm.Account.objects.using("platform").count() == 10
    assert pm.ApiRequest.objects.using("platform").count() == 30
    created = pm.Account.objects.create(email="new@example.com", name="New", created_at=ANCHOR)
    assert created.pk == 11


def test_seed_platform_command_reports_what_it_wrote():
    out = StringIO()
    call_command(
        "seed_platform",
        "--accounts",
        "8",
        "--requests-per-account",
        "5",
        "--seed",
        "9",
        "--anchor",
        "2026-01-31",
        "--reset",
        stdout=out,
    )
    text = out.getvalue()
    assert "accounts: 8" in text and "api_requests: 40" in text
    assert pm.ApiRequest.objects.using("platform").filter(created_at__gt=datetime(2026, 1, 31, tzinfo=UTC)).count() == 0
    with pytest.raises(CommandError, match="--anchor"):
        call_command("seed_platform", "--accounts", "1", "--requests-per-account", "1", "--anchor", "31/01/2026")
    with pytest.raises(CommandError, match="No database alias"):
        call_command("seed_platform", "--accounts", "1", "--requests-per-account", "1", "--database", "nowhere")


def test_demo_step_seeds_a_few_hundred_accounts_once():
    out = StringIO()
    load_demo(stdout=out)
    assert platform_account_count() == DEMO_ACCOUNTS
    before = pm.ApiRequest.objects.using("platform").count()
    load_demo(stdout=out)
    assert platform_account_count() == DEMO_ACCOUNTS
    assert pm.ApiRequest.objects.using("platform").count() == before
    assert "already has data" in out.getvalue()
