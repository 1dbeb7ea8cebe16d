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
