"""Retention in the admin: pages render, the matrix flags gaps, holds are released with a reason,
runs are approved and cancelled with buttons, and changelists run a fixed number of queries."""

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import DataCategory, LegalBasis, Regime
from retention.models import LegalHold, RetentionRun, RunStatus
from retention.services import legal_hold_place


def _run(rule, status=RunStatus.AWAITING_APPROVAL, **extra):
    values = {
        "rule": rule,
        "mode": "execute",
        "status": status,
        "cutoff": timezone.now(),
        "timestamp_column": "created_at",
        "rows_matched": 120,
        "rows_to_affect": 100,
    }
    values.update(extra)
    return RetentionRun.objects.create(**values)


@pytest.mark.django_db
def test_rule_pages_render_and_saving_the_form_goes_through_the_service(client, officer, minimap, make_rule):
    rule = make_rule()
    client.force_login(officer)
    for url in [
        reverse("admin:retention_retentionrule_changelist"),
        reverse("admin:retention_retentionrule_add"),
        reverse("admin:retention_retentionrule_change", args=[rule.pk]),
    ]:
        assert client.get(url).status_code == 200
    response = client.post(
        reverse("admin:retention_retentionrule_add"),
        {
            "name": "Prompts: 30 days",
            "data_category": DataCategory.objects.get(slug="content").pk,
            "table": minimap.prompts.pk,
            "is_enabled": "on",
            "trigger": "row_timestamp",
            "trigger_column": minimap.columns["prompts.created_at"].pk,
            "period": "30",
            "period_unit": "days",
            "period_anchor": "trigger",
            "action": "delete",
            "justification": "Customers expect short prompt retention.",
            "legal_basis": LegalBasis.objects.get(slug="contract").pk,
            "cadence": "0 1 * * *",
            "batch_size": "5000",
            "approval_threshold": "10000",
            # A basis for one regime's records (records of requests: a legal obligation under the CCPA).
            "regime_bases-TOTAL_FORMS": "1",
            "regime_bases-INITIAL_FORMS": "0",
            "regime_bases-0-regime": Regime.objects.get(code="ccpa").pk,
            "regime_bases-0-legal_basis": LegalBasis.objects.get(slug="legal-obligation").pk,
            "regime_bases-0-legal_source": "11 CCR §7101",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = minimap.prompts.retention_rules.get()
    assert created.periodic_task is not None and created.periodic_task.crontab.hour == "1"
    basis = created.regime_bases.get()
    assert (basis.regime.code, basis.legal_basis.slug, basis.legal_source) == (
        "ccpa",
        "legal-obligation",
        "11 CCR §7101",
    )


@pytest.mark.django_db
def test_the_rule_form_shows_why_a_bad_rule_is_refused(client, officer, minimap):
    client.force_login(officer)
    response = client.post(
        reverse("admin:retention_retentionrule_add"),
        {
            "name": "Bad",
            "data_category": DataCategory.objects.get(slug="api-usage").pk,
            "table": minimap.api_requests.pk,
            "trigger": "row_timestamp",
            "trigger_column": minimap.columns["api_requests.model_id"].pk,
            "period": "0",
            "period_unit": "days",
            "period_anchor": "trigger",
            "action": "delete",
            "justification": "x",
            "legal_basis": LegalBasis.objects.get(slug="contract").pk,
            "cadence": "30 2 * * *",
            "batch_size": "5000",
            "approval_threshold": "10000",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The period must be a positive number" in page
    assert "is not a timestamp in the data map" in page


@pytest.mark.django_db
def test_the_matrix_shows_rules_by_category_and_system_and_flags_what_lacks_a_rule(client, officer, minimap, make_rule):
    make_rule(name="API metadata 90 days")
    client.force_login(officer)
    response = client.get(reverse("admin:retention_retentionrule_matrix"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "API metadata 90 days" in page and "next run" in page
    matrix = response.context["matrix"]
    assert [t.table_name for t in matrix.tables_without_rule] == ["accounts", "invoices", "prompts"]
    assert {c.slug for c in matrix.categories_without_rule} == {"account-identity", "content", "billing-transactions"}
    gaps = {(c.slug, cell.is_gap) for c, cells in matrix.rows() for cell in cells}
    assert ("api-usage", False) in gaps and ("content", True) in gaps
    assert "mini.prompts" in page


@pytest.mark.django_db
def test_auditors_see_the_matrix_support_agents_do_not(client, auditor, agent, minimap):
    client.force_login(auditor)
    assert client.get(reverse("admin:retention_retentionrule_matrix")).status_code == 200
    client.force_login(agent)
    assert client.get(reverse("admin:retention_retentionrule_matrix")).status_code == 403


@pytest.mark.django_db
def test_a_hold_is_placed_in_the_admin_by_the_logged_in_officer_and_released_with_a_reason(client, officer, minimap):
    client.force_login(officer)
    response = client.post(
        reverse("admin:retention_legalhold_add"),
        {
            "name": "Litigation 2026-14",
            "reason": "litigation",
            "subject_account_ref": "42",
            "subject_email": "",
            "starts_at_0": "2026-01-01",
            "starts_at_1": "09:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    hold = LegalHold.objects.get()
    assert hold.placed_by == officer
    page = client.get(reverse("admin:retention_legalhold_change", args=[hold.pk])).content.decode()
    assert reverse("admin:retention_legalhold_release", args=[hold.pk]) in page
    response = client.post(reverse("admin:retention_legalhold_release", args=[hold.pk]), {"reason": "Case settled"})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_by == officer and hold.release_reason == "Case settled"
    page = client.get(reverse("admin:retention_legalhold_change", args=[hold.pk])).content.decode()
    assert 'name="_save"' not in page  # a released hold is read-only


@pytest.mark.django_db
def test_a_hold_with_until_before_from_shows_the_reason_in_the_form(client, officer):
    client.force_login(officer)
    response = client.post(
        reverse("admin:retention_legalhold_add"),
        {
            "name": "Backwards",
            "reason": "dispute",
            "subject_email": "a@example.com",
            "starts_at_0": "2026-05-02",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-05-01",
            "ends_at_1": "09:00:00",
        },
    )
    assert response.status_code == 200
    assert "must be after" in response.content.decode()


@pytest.mark.django_db
def test_an_officer_approves_a_run_with_the_button_and_it_is_queued(
    client, officer, make_rule, django_capture_on_commit_callbacks
):
    run = _run(make_rule())
    client.force_login(officer)
    page = client.get(reverse("admin:retention_retentionrun_change", args=[run.pk])).content.decode()
    assert "Approve (100 rows)" in page and 'name="_save"' not in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("admin:retention_run_approve", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.approved_by == officer
    assert len(callbacks) == 1  # the sweep is enqueued once the approval commits


@pytest.mark.django_db
def test_auditors_cannot_approve_or_cancel(client, auditor, make_rule):
    run = _run(make_rule())
    client.force_login(auditor)
    page = client.get(reverse("admin:retention_retentionrun_change", args=[run.pk])).content.decode()
    assert "Approve (" not in page and "Cancel the run" not in page
    assert client.post(reverse("admin:retention_run_approve", args=[run.pk])).status_code == 403
    assert client.post(reverse("admin:retention_run_cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.AWAITING_APPROVAL


@pytest.mark.django_db
def test_cancelling_a_running_run_asks_the_worker_to_stop_between_batches(client, officer, make_rule):
    run = _run(make_rule(), status=RunStatus.RUNNING, started_at=timezone.now())
    client.force_login(officer)
    page = client.get(reverse("admin:retention_retentionrun_change", args=[run.pk])).content.decode()
    assert 'http-equiv="refresh"' in page  # progress refreshes while the sweep runs
    client.post(reverse("admin:retention_run_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.cancel_requested_by == officer


@pytest.mark.django_db
def test_changelists_run_a_fixed_number_of_queries(client, officer, minimap, make_rule, django_assert_max_num_queries):
    rules = [make_rule(), make_rule(action="anonymise", name="Anon")]
    for rule in rules:
        for _ in range(5):
            _run(rule, status=RunStatus.SUCCEEDED)
    for name in range(5):
        legal_hold_place(actor=officer, name=f"Hold {name}", reason="dispute", table=minimap.invoices)
    client.force_login(officer)
    for url in [
        reverse("admin:retention_retentionrule_changelist"),
        reverse("admin:retention_retentionrun_changelist"),
        reverse("admin:retention_legalhold_changelist"),
    ]:
        with django_assert_max_num_queries(14):
            assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_the_dashboard_shows_runs_awaiting_approval(client, officer, make_rule):
    run = _run(make_rule())
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    assert "1 run awaiting approval" in page
    assert reverse("admin:retention_retentionrun_change", args=[run.pk]) in page
