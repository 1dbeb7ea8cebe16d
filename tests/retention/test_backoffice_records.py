"""The back office's own records are a system of record too: swept through the same connector on `default`."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from compliance.connectors.base import Subject
from compliance.datamap import datamap_import_file
from compliance.models import MappedTable, Regime
from requests_app.models import RightsRequest
from retention.demo import BACKOFFICE_MAP, DEFAULT_SCHEDULE, default_rule_create
from retention.models import RunStatus
from retention.selectors import erasure_exemptions
from retention.services import retention_run_execute, retention_run_start

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=LONDON)


def closed_request(number: int, closed: datetime) -> RightsRequest:
    with time_machine.travel(closed - timedelta(days=20), tick=False):
        request = RightsRequest.objects.create(
            reference=f"DSR-TEST-{number:05d}",
            requester_name=f"Requester {number}",
            requester_email=f"requester{number}@example.com",
            account_ref=str(number),
            regime=Regime.objects.get(code="uk_gdpr"),
            received_at=closed - timedelta(days=20),
            description="Please send me my data.",
        )
    with time_machine.travel(closed, tick=False):
        request.status = "closed"
        request.closed_at = closed
        request.outcome = "fulfilled"
        request.save()
    return request


def schedule_rule(name_start: str, officer):
    entry = next(e for e in DEFAULT_SCHEDULE if e.name.startswith(name_start))
    return default_rule_create(entry, actor=officer)


def sweep(rule):
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    return retention_run_execute(run_id=run.pk) if run.status == RunStatus.QUEUED else run


@pytest.mark.django_db
def test_closed_requests_are_anonymised_24_months_after_closure_and_their_history_deleted(officer):
    datamap_import_file(BACKOFFICE_MAP)
    old = closed_request(1, NOW - timedelta(days=800))
    recent = closed_request(2, NOW - timedelta(days=700))
    open_request = RightsRequest.objects.create(
        reference="DSR-TEST-00003",
        requester_name="Still open",
        requester_email="open@example.com",
        regime=Regime.objects.get(code="uk_gdpr"),
        received_at=NOW - timedelta(days=900),
    )
    with time_machine.travel(NOW, tick=False):
        anonymise = schedule_rule("Closed rights requests", officer)
        history = schedule_rule("History of closed rights requests", officer)
        first = sweep(anonymise)
        second = sweep(history)

    old.refresh_from_db()
    assert old.requester_email.startswith("hmac:") and old.requester_name == "Erased requester"
    assert old.account_ref.startswith("hmac:") and old.description != "Please send me my data."
    assert (old.reference, old.outcome, old.status) == ("DSR-TEST-00001", "fulfilled", "closed")  # figures stay
    recent.refresh_from_db()
    assert recent.requester_email == "requester2@example.com"
    open_request.refresh_from_db()
    assert open_request.requester_email == "open@example.com"
    assert (first.status, first.rows_affected) == (RunStatus.SUCCEEDED, 1)

    assert not old.history.exists()
    assert recent.history.count() == 2 and open_request.history.count() == 1
    assert (second.status, second.rows_affected) == (RunStatus.SUCCEEDED, 2)


@pytest.mark.django_db
def test_records_of_requests_rest_on_accountability_for_uk_and_eu_and_on_the_law_for_ccpa_and_colorado(officer, client):
    datamap_import_file(BACKOFFICE_MAP)
    rule = schedule_rule("Closed rights requests", officer)
    table = MappedTable.objects.get(system__slug="studio-backoffice", table_name="requests_app_rightsrequest")
    assert rule.legal_basis.slug == "legitimate-interests"  # UK and EU requests: the controller's accountability
    bases = {b.regime.code: (b.legal_basis.slug, b.legal_source) for b in rule.regime_bases.all()}
    assert bases["ccpa"][0] == "legal-obligation" and "§7101" in bases["ccpa"][1]
    assert bases["cpa"][0] == "legal-obligation" and "Rule 6.11" in bases["cpa"][1]
    assert "uk_gdpr" not in bases and "eu_gdpr" not in bases
    # Not a legal obligation for every request, so not an erasure exemption of its own (erasure keeps the
    # back office's records as the record of the request itself, see fulfilment).
    assert erasure_exemptions(subject=Subject(email="requester1@example.com"), tables=[table]) == {}
    # The retention matrix shows both.
    client.force_login(officer)
    page = client.get(reverse("admin:retention_retentionrule_matrix"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Legitimate interests; for requests under CCPA / CPRA: legal obligation; Colorado CPA: legal" in text


@pytest.mark.django_db
def test_the_back_office_map_matches_its_schema_and_every_mapped_personal_table_has_a_rule(baseline, officer):
    """datamap_audit passes on the back office's own map, and the shipped schedule leaves no mapped table
    holding personal data without a rule (nothing personal may lack one)."""
    from io import StringIO

    from django.core.management import call_command

    from compliance.models import MappedColumn

    datamap_import_file(BACKOFFICE_MAP)
    out = StringIO()
    call_command("datamap_audit", "--system", "studio-backoffice", stdout=out)
    for entry in DEFAULT_SCHEDULE:
        if entry.system == "studio-backoffice":
            default_rule_create(entry, actor=officer)
    personal = set(
        MappedColumn.objects.filter(table__system__slug="studio-backoffice", data_category__isnull=False).values_list(
            "table__table_name", flat=True
        )
    )
    ruled = set(
        MappedTable.objects.filter(system__slug="studio-backoffice", retention_rules__isnull=False).values_list(
            "table_name", flat=True
        )
    )
    assert personal - ruled == set()
    assert {"requests_app_requestline", "requests_app_requestevent", "subprocessors_noticesubscriber"} <= ruled


def _backoffice_rules(officer, *name_starts: str) -> list:
    return [schedule_rule(start, officer) for start in name_starts]


@pytest.mark.django_db
def test_legal_holds_are_anonymised_6_years_after_release_and_their_history_deleted(officer):
    from retention.models import LegalHold
    from retention.services import legal_hold_place, legal_hold_release

    datamap_import_file(BACKOFFICE_MAP)

    def hold(name: str, email: str, released: datetime | None) -> LegalHold:
        with time_machine.travel((released or NOW) - timedelta(days=400), tick=False):
            placed = legal_hold_place(
                actor=officer,
                name=name,
                reason="litigation",
                description=f"Claim by {email}",
                subject_email=email,
                subject_account_ref="4711",
            )
        if released is not None:
            with time_machine.travel(released, tick=False):
                placed = legal_hold_release(hold_id=placed.pk, actor=officer, reason=f"{email} settled")
        return placed

    old = hold("Litigation 2019-01", "old@example.com", NOW - timedelta(days=6 * 366 + 2))
    recent = hold("Litigation 2021-07", "recent@example.com", NOW - timedelta(days=5 * 365))
    active = hold("Litigation 2026-02", "active@example.com", None)
    with time_machine.travel(NOW, tick=False):
        anonymise, history = _backoffice_rules(officer, "Legal holds", "History of legal holds")
        assert "Limitation Act 1980" in anonymise.justification
        first, second = sweep(anonymise), sweep(history)

    old.refresh_from_db()
    assert (old.subject_email, old.subject_account_ref, old.description, old.release_reason) == ("[redacted]",) * 4
    assert (old.name, old.released_at is not None) == ("Litigation 2019-01", True)  # the case and dates stay
    recent.refresh_from_db()
    active.refresh_from_db()
    assert (recent.subject_email, active.subject_email) == ("recent@example.com", "active@example.com")
    assert (first.status, first.rows_affected) == (RunStatus.SUCCEEDED, 1)
    assert not old.history.exists() and recent.history.count() == 2 and active.history.count() == 1
    assert (second.status, second.rows_affected) == (RunStatus.SUCCEEDED, 2)


@pytest.mark.django_db
def test_a_lapsed_hold_counts_as_released_on_its_end_date_and_is_swept_6_years_after_it(officer, client):
    """A hold whose 'until' date passed without a release protects nothing from that date; its record is kept
    for the limitation period counted from then, like a released hold's, and is shown to the officer as lapsed."""
    from retention.models import LegalHold
    from retention.services import legal_hold_place, legal_hold_release

    datamap_import_file(BACKOFFICE_MAP)

    def hold(name: str, email: str, ends: datetime) -> LegalHold:
        with time_machine.travel(ends - timedelta(days=400), tick=False):
            return legal_hold_place(
                actor=officer,
                name=name,
                reason="dispute",
                description=f"Dispute with {email}",
                subject_email=email,
                ends_at=ends,
            )

    lapsed_long_ago = hold("Dispute 2019-03", "old@example.com", NOW - timedelta(days=6 * 366 + 2))
    lapsed_recently = hold("Dispute 2021-05", "recent@example.com", NOW - timedelta(days=5 * 365))
    in_force = hold("Dispute 2026-01", "current@example.com", NOW + timedelta(days=30))
    # Released long after it lapsed: it still counts from its end date, the earlier of the two.
    released_late = hold("Dispute 2019-11", "late@example.com", NOW - timedelta(days=6 * 366 + 1))
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        legal_hold_release(hold_id=released_late.pk, actor=officer, reason="Found while tidying up")

    with time_machine.travel(NOW, tick=False):
        client.force_login(officer)
        page = client.get(reverse("admin:retention_legalhold_changelist"), {"state": "lapsed"}).content.decode()
        assert "Dispute 2019-03" in page and "Dispute 2021-05" in page and "Dispute 2026-01" not in page
        assert "lapsed (ended, never released)" in page
        released_late.refresh_from_db()
        assert released_late.ended_at == released_late.ends_at < released_late.released_at
        page = client.get(reverse("admin:retention_legalhold_change", args=[lapsed_long_ago.pk])).content.decode()
        assert "Ends (or ended)" in page

        anonymise, history = _backoffice_rules(officer, "Legal holds", "History of legal holds")
        first, second = sweep(anonymise), sweep(history)
    assert (first.status, first.rows_affected) == (RunStatus.SUCCEEDED, 2)
    assert (second.status, second.rows_affected) == (RunStatus.SUCCEEDED, 3)  # placed, placed + released

    lapsed_long_ago.refresh_from_db()
    assert (lapsed_long_ago.subject_email, lapsed_long_ago.description) == ("[redacted]", "[redacted]")
    assert lapsed_long_ago.name == "Dispute 2019-03" and lapsed_long_ago.ends_at is not None  # the case and dates stay
    assert not lapsed_long_ago.history.exists()
    released_late.refresh_from_db()
    assert released_late.subject_email == "[redacted]" and not released_late.history.exists()
    for kept in (lapsed_recently, in_force):
        kept.refresh_from_db()
        assert kept.subject_email.endswith("@example.com") and kept.history.exists()


@pytest.mark.django_db
def test_the_migration_counts_earlier_versions_hold_rules_from_the_end_and_fills_the_end_of_every_hold(officer):
    """Installs of earlier versions have the hold rules on ``released_at`` and holds without ``ended_at``."""
    import importlib

    from django.apps import apps

    from compliance.models import DataCategory, LegalBasis, MappedColumn
    from retention.models import LegalHold, RetentionRule
    from retention.services import legal_hold_place, retention_rule_create

    migration = importlib.import_module("retention.migrations.0004_hold_ended_at")
    datamap_import_file(BACKOFFICE_MAP)
    MappedColumn.objects.filter(name="ended_at", table__table_name__contains="legalhold").delete()
    holds = MappedTable.objects.get(table_name="retention_legalhold")
    old_name = "Released legal holds: anonymise 6 years after release"
    retention_rule_create(
        actor=officer,
        name=old_name,
        data_category=DataCategory.objects.get(slug="account-identity"),
        table=holds,
        trigger_column=MappedColumn.objects.get(table=holds, name="released_at"),
        period=6,
        period_unit="years",
        action="anonymise",
        justification="6 years after release.",
        legal_basis=LegalBasis.objects.get(slug="legitimate-interests"),
    )
    lapsed = legal_hold_place(
        actor=officer,
        name="Dispute 2019-03",
        reason="dispute",
        subject_email="a@example.com",
        starts_at=NOW - timedelta(days=400),
        ends_at=NOW,
    )
    LegalHold.objects.filter(pk=lapsed.pk).update(ended_at=None)

    migration.holds_end(apps, None)

    rule = RetentionRule.objects.get()
    assert rule.name == "Legal holds: anonymise 6 years after release or lapse"
    assert (rule.trigger_column.table, rule.trigger_column.name) == (holds, "ended_at")
    assert rule.trigger_column.is_timestamp and rule.trigger_column.not_personal
    assert MappedColumn.objects.filter(table__table_name="retention_historicallegalhold", name="ended_at").exists()
    lapsed.refresh_from_db()
    assert lapsed.ended_at == NOW


@pytest.mark.django_db
def test_erasure_ledger_outlives_the_backups_and_idempotency_records_last_days(officer):
    from compliance.models import SystemOfRecord
    from fulfilment.models import ErasureLedgerEntry
    from requests_app.models import IdempotencyRecord
    from requests_app.services.api_clients import api_client_create

    datamap_import_file(BACKOFFICE_MAP)
    request = closed_request(1, NOW - timedelta(days=30))
    system = SystemOfRecord.objects.get(slug="studio-backoffice")

    def ledger(reference: str, erased: datetime) -> ErasureLedgerEntry:
        return ErasureLedgerEntry.objects.create(
            request=request, request_reference=reference, system=system, email_hmac="a" * 64, erased_at=erased
        )

    gone = ledger("DSR-TEST-00001", NOW - timedelta(days=13 * 31 + 1))
    kept = ledger("DSR-TEST-00002", NOW - timedelta(days=365))
    client, _token = api_client_create(name="Helpdesk", actor=officer)

    def idempotency(key: str, created: datetime) -> IdempotencyRecord:
        with time_machine.travel(created, tick=False):
            return IdempotencyRecord.objects.create(
                client=client, key=key, endpoint="create", body_hash="b" * 64, rights_request=request, status_code=201
            )

    stale = idempotency("k-old", NOW - timedelta(days=8))
    fresh = idempotency("k-new", NOW - timedelta(days=6))
    with time_machine.travel(NOW, tick=False):
        ledger_rule, idempotency_rule = _backoffice_rules(officer, "Erasure ledger", "Idempotency records")
        assert (ledger_rule.period, ledger_rule.period_unit) == (13, "months")
        assert "backup" in ledger_rule.justification
        assert (idempotency_rule.period, idempotency_rule.period_unit) == (7, "days")
        runs = [sweep(ledger_rule), sweep(idempotency_rule)]

    assert [(run.status, run.rows_affected) for run in runs] == [(RunStatus.SUCCEEDED, 1)] * 2
    assert set(ErasureLedgerEntry.objects.values_list("pk", flat=True)) == {kept.pk} != {gone.pk}
    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == {fresh.pk} != {stale.pk}


@pytest.mark.django_db
def test_steps_and_manual_tasks_go_with_their_request_records_after_24_months(officer):
    from compliance.models import ManualTask, SystemOfRecord
    from fulfilment.models import FulfilmentStep

    datamap_import_file(BACKOFFICE_MAP)
    system = SystemOfRecord.objects.get(slug="studio-backoffice")
    old, recent = closed_request(1, NOW - timedelta(days=800)), closed_request(2, NOW - timedelta(days=700))
    steps = {
        request.pk: FulfilmentStep.objects.create(
            request=request, system=system, kind="erase", key=f"erase:{request.pk}", waived_reason="Asked by phone"
        )
        for request in (old, recent)
    }

    def task(number: int, completed: datetime | None) -> ManualTask:
        with time_machine.travel((completed or NOW) - timedelta(days=3), tick=False):
            opened = ManualTask.objects.create(
                system=system,
                operation="erase",
                key=f"{number:064d}",
                title=f"DSR-TEST-{number:05d}: Erase in Back office",
                instructions="Erase the rows.",
                subject_email=f"requester{number}@example.com",
                subject_account_ref=str(number),
            )
        if completed is not None:
            with time_machine.travel(completed, tick=False):
                opened.status, opened.completed_at, opened.outcome = "done", completed, "Erased 3 rows of J. Doe"
                opened.subject_email = opened.subject_account_ref = ""
                opened.save()
        return opened

    done_long_ago, done_lately, still_open = (
        task(1, NOW - timedelta(days=800)),
        task(2, NOW - timedelta(days=30)),
        task(3, None),
    )
    with time_machine.travel(NOW, tick=False):
        rules = _backoffice_rules(
            officer,
            "Fulfilment steps of closed requests",
            "History of fulfilment steps",
            "Manual tasks",
            "History of manual tasks",
        )
        runs = [sweep(rule) for rule in rules]

    assert all(run.status == RunStatus.SUCCEEDED for run in runs)
    assert [run.rows_affected for run in runs] == [1, 1, 1, 2]
    steps[old.pk].refresh_from_db()
    steps[recent.pk].refresh_from_db()
    assert (steps[old.pk].waived_reason, steps[old.pk].kind) == ("[redacted]", "erase")
    assert steps[recent.pk].waived_reason == "Asked by phone"
    assert not steps[old.pk].history.exists() and steps[recent.pk].history.count() == 1
    for item in (done_long_ago, done_lately, still_open):
        item.refresh_from_db()
    assert (done_long_ago.outcome, done_long_ago.title) == ("[redacted]", "DSR-TEST-00001: Erase in Back office")
    assert done_lately.outcome == "Erased 3 rows of J. Doe"
    assert still_open.subject_email == "requester3@example.com"  # open: the assignee still needs it
    assert not done_long_ago.history.exists() and done_lately.history.count() == 2
