"""Releasing a legal hold shows what the release lets happen (the sweeps that resume) before anything changes."""

import pytest
from django.urls import reverse

from compliance.models import DataCategory
from retention.models import LegalHold
from retention.services import legal_hold_place

pytestmark = pytest.mark.django_db


def test_the_release_page_summarises_the_hold_and_the_sweeps_that_resume_and_changes_nothing(
    client, officer, minimap, make_rule
):
    sweeping = make_rule(table=minimap.api_requests)  # its table is in the hold's system
    hold = legal_hold_place(
        actor=officer,
        name="Litigation 2026-14",
        reason="litigation",
        subject_account_ref="42",
        table=minimap.api_requests,
    )
    elsewhere = make_rule(
        table=minimap.invoices,
        name="Invoices rule",
        trigger_column=minimap.columns["invoices.issued_at"],
        data_category=DataCategory.objects.get(slug="billing-transactions"),
    )
    client.force_login(officer)
    page = client.get(reverse("admin:retention_legalhold_release", args=[hold.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Litigation 2026-14" in html and "one subject" in html and "api_requests" in html
    assert sweeping.name in html and elsewhere.name not in html
    assert "Erasure requests of this subject will delete or mask the held rows" in html
    assert "Keep the hold" in html
    hold.refresh_from_db()
    assert hold.released_at is None  # reading the summary releases nothing

    client.post(reverse("admin:retention_legalhold_release", args=[hold.pk]), {"reason": "Case settled"})
    hold.refresh_from_db()
    assert hold.released_at is not None
    again = client.get(reverse("admin:retention_legalhold_release", args=[hold.pk]))
    assert again.status_code == 403 and "Release the hold" not in again.content.decode()


def test_a_release_without_a_reason_keeps_the_hold_and_says_why(client, officer, minimap):
    hold = legal_hold_place(actor=officer, name="Dispute 7", reason="dispute", system=minimap.system)
    client.force_login(officer)
    response = client.post(reverse("admin:retention_legalhold_release", args=[hold.pk]), {"reason": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert LegalHold.objects.get(pk=hold.pk).released_at is None
