"""The register's admin: thin over the services, refusals shown as messages, fixed query counts."""

from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from subprocessors.models import (
    ChangeObjection,
    DataProcessingAgreement,
    NoticeSubscriber,
    Subprocessor,
    SubprocessorChange,
    private_storage,
)
from subprocessors.services.changes import change_objection_record, subprocessor_change_announce
from tests.support.factories import CustomerFactory, DPAFactory, LocationFactory, SubprocessorFactory, SubscriberFactory


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def announce(sub, officer, days=30):
    return subprocessor_change_announce(
        subprocessor=sub,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding.",
        effective_on=timezone.localdate() + timedelta(days=days),
        actor=officer,
    )


def test_announcing_through_the_admin_refuses_an_early_date_and_saves_nothing(officer_client, proposed):
    url = reverse("admin:subprocessors_subprocessorchange_add")
    early = timezone.localdate() + timedelta(days=10)
    response = officer_client.post(
        url, {"subprocessor": proposed.pk, "kind": "addition", "summary": "Adding Nimbus.", "effective_on": early}
    )
    assert response.status_code == 200
    assert "The effective date must give 30 days&#x27; notice" in response.content.decode()
    assert not SubprocessorChange.objects.exists()
    ok = timezone.localdate() + timedelta(days=30)
    response = officer_client.post(
        url,
        {
            "subprocessor": proposed.pk,
            "kind": "addition",
            "summary": "Adding Nimbus.",
            "effective_on": ok,
            "_confirm": 1,
        },
    )
    assert response.status_code == 302
    change = SubprocessorChange.objects.get()
    assert change.announced_by.username == "test-officer"
    proposed.refresh_from_db()
    assert proposed.status == Subprocessor.Status.ANNOUNCED
    page = officer_client.get(reverse("admin:subprocessors_subprocessorchange_change", args=[change.pk]))
    assert "The notice period runs until" in page.content.decode()


def test_the_make_effective_action_says_why_it_refuses(officer_client, proposed, officer):
    change = announce(proposed, officer)
    response = officer_client.post(
        reverse("admin:subprocessors_subprocessorchange_changelist"),
        {"action": "make_effective", "_selected_action": [change.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "cannot take effect: The notice period runs until" in text
    change.refresh_from_db()
    assert change.status == SubprocessorChange.Status.ANNOUNCED


def test_withdrawing_through_the_admin_asks_for_a_reason(officer_client, proposed, officer):
    change = announce(proposed, officer)
    url = reverse("admin:subprocessors_subprocessorchange_changelist")
    page = officer_client.post(url, {"action": "withdraw", "_selected_action": [change.pk]})
    assert page.status_code == 200 and "Withdraw these changes?" in page.content.decode()
    officer_client.post(url, {"action": "withdraw", "_selected_action": [change.pk], "apply": "1", "reason": ""})
    change.refresh_from_db()
    assert change.status == SubprocessorChange.Status.ANNOUNCED
    officer_client.post(
        url, {"action": "withdraw", "_selected_action": [change.pk], "apply": "1", "reason": "Vendor declined DPA."}
    )
    change.refresh_from_db()
    assert change.status == SubprocessorChange.Status.WITHDRAWN
    proposed.refresh_from_db()
    assert proposed.status == Subprocessor.Status.PROPOSED


def test_objections_are_logged_and_resolved_in_the_admin(officer_client, proposed, officer):
    change = announce(proposed, officer)
    customer = CustomerFactory(name="Globex Health GmbH")
    response = officer_client.post(
        reverse("admin:subprocessors_changeobjection_add"),
        {"change": change.pk, "customer": customer.pk, "received_on": timezone.localdate(), "grounds": "EEA only."},
    )
    assert response.status_code == 302
    objection = ChangeObjection.objects.get()
    assert objection.recorded_by == officer and objection.is_open
    url = reverse("admin:subprocessors_changeobjection_change", args=[objection.pk])
    response = officer_client.post(url, {"resolve_outcome": "accommodated", "resolve_note": ""})
    assert "Say how the objection was resolved." in response.content.decode()
    officer_client.post(url, {"resolve_outcome": "accommodated", "resolve_note": "Ireland only, confirmed."})
    objection.refresh_from_db()
    assert objection.outcome == "accommodated" and objection.resolved_by == officer


def test_a_second_open_objection_from_the_same_customer_is_refused(officer_client, proposed, officer):
    change = announce(proposed, officer)
    customer = CustomerFactory()
    change_objection_record(
        change=change, customer=customer, received_on=timezone.localdate(), grounds="x", actor=officer
    )
    response = officer_client.post(
        reverse("admin:subprocessors_changeobjection_add"),
        {"change": change.pk, "customer": customer.pk, "received_on": timezone.localdate(), "grounds": "again"},
    )
    assert "already has an open objection" in response.content.decode()
    assert ChangeObjection.objects.count() == 1


def _change_form_data(sub, **overrides):
    data = {
        "legal_name": sub.legal_name,
        "trading_name": sub.trading_name,
        "slug": sub.slug,
        "website": sub.website,
        "category": sub.category,
        "service_description": sub.service_description,
        "purposes": [p.pk for p in sub.purposes.all()],
        "data_categories": [c.pk for c in sub.data_categories.all()],
        "risk_rating": sub.risk_rating,
        "privacy_contact_email": sub.privacy_contact_email,
        "notes": sub.notes,
    }
    for prefix, rows in (
        ("locations", sub.locations.all()),
        ("dpas", sub.dpas.all()),
        ("attestations", sub.attestations.all()),
    ):
        data.update({f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": len(rows)})
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = row.pk
            data[f"{prefix}-{i}-subprocessor"] = sub.pk
            if prefix == "locations":
                data.update({f"{prefix}-{i}-country": row.country.code, f"{prefix}-{i}-mechanism": row.mechanism})
            if prefix == "dpas":
                data.update(
                    {
                        f"{prefix}-{i}-version": row.version,
                        f"{prefix}-{i}-signed_on": row.signed_on,
                        f"{prefix}-{i}-review_on": row.review_on,
                    }
                )
    data.update(overrides)
    return data


def test_widening_a_public_vendors_data_categories_in_the_admin_is_refused(officer_client, active, categories):
    url = reverse("admin:subprocessors_subprocessor_change", args=[active.pk])
    data = _change_form_data(active)
    data["data_categories"] = [*data["data_categories"], categories["content"].pk]
    response = officer_client.post(url, data)
    assert response.status_code == 200
    assert "announce a new data category as a change" in response.content.decode()
    assert not active.data_categories.filter(slug="content").exists()


def test_a_location_added_in_the_admin_to_a_public_vendor_is_pending_and_a_bad_one_is_refused(officer_client, active):
    url = reverse("admin:subprocessors_subprocessor_change", args=[active.pk])
    data = _change_form_data(active)
    data.update({"locations-TOTAL_FORMS": 2, "locations-1-country": "CN", "locations-1-mechanism": "adequacy"})
    response = officer_client.post(url, data)
    assert response.status_code == 200
    assert "China has no current adequacy decision on record" in response.content.decode()
    assert active.locations.count() == 1
    data.update({"locations-1-country": "CN", "locations-1-mechanism": "eu_scc", "locations-1-scc_module": "3"})
    response = officer_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert active.locations.get(country="CN").is_pending


def test_a_dpa_uploaded_in_the_admin_goes_to_private_storage_and_only_staff_with_permission_download_it(
    client, officer, auditor, agent, active
):
    client.force_login(officer)
    url = reverse("admin:subprocessors_subprocessor_change", args=[active.pk])
    data = _change_form_data(active)
    pdf = ContentFile(b"%PDF-1.4 signed", name="Signed DPA Jane Doe.pdf")
    data.update(
        {
            "dpas-TOTAL_FORMS": 2,
            "dpas-1-version": "2026-01",
            "dpas-1-signed_on": "2026-01-10",
            "dpas-1-review_on": "2027-01-10",
            "dpas-1-document": pdf,
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302
    dpa = DataProcessingAgreement.objects.get(version="2026-01")
    try:
        # The field's storage is resolved once at import; another test's override_settings(STORAGES=...) makes a
        # new instance of the same private storage, so compare where it writes, not object identity.
        assert dpa.document.storage.location == private_storage().location
        assert private_storage().exists(dpa.document.name)
        assert "Jane" not in dpa.document.name
        download = reverse("admin:subprocessors_dataprocessingagreement_document", args=[dpa.pk])
        client.force_login(auditor)
        response = client.get(download)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"%PDF-1.4 signed"
        assert "attachment" in response["Content-Disposition"]
        client.force_login(agent)
        assert client.get(download).status_code == 403
        client.logout()
        assert client.get(download).status_code == 302  # to the login page
    finally:
        dpa.document.delete(save=False)


def test_a_dpa_that_is_not_a_pdf_is_refused(officer_client, active):
    url = reverse("admin:subprocessors_subprocessor_change", args=[active.pk])
    data = _change_form_data(active)
    data.update(
        {
            "dpas-TOTAL_FORMS": 2,
            "dpas-1-version": "2026-01",
            "dpas-1-signed_on": "2026-01-10",
            "dpas-1-review_on": "2027-01-10",
            "dpas-1-document": ContentFile(b"MZ", name="dpa.exe"),
        }
    )
    response = officer_client.post(url, data)
    assert response.status_code == 200
    assert "This file is not a PDF" in response.content.decode()
    assert not DataProcessingAgreement.objects.filter(version="2026-01").exists()


def test_the_transfer_report_page_and_csv(officer_client, active, client, agent):
    url = reverse("admin:subprocessors_subprocessor_transfer_report")
    page = officer_client.get(url)
    assert page.status_code == 200
    assert "Every transfer has a safeguard" in page.content.decode()
    csv_response = officer_client.get(url + "?format=csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "Account and identity data,Ireland,IE,Nimbus" in csv_response.content.decode()
    client.force_login(agent)
    assert client.get(url).status_code == 403


def test_subscribers_cannot_be_added_by_staff_but_can_be_unsubscribed(officer_client, db):
    subscriber = SubscriberFactory()
    assert officer_client.get(reverse("admin:subprocessors_noticesubscriber_add")).status_code == 403
    officer_client.post(
        reverse("admin:subprocessors_noticesubscriber_changelist"),
        {"action": "unsubscribe", "_selected_action": [subscriber.pk]},
    )
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert NoticeSubscriber.objects.count() == 1


def test_the_dashboard_panel_lists_what_is_held_and_due(officer_client, proposed, officer):
    change = announce(proposed, officer)
    change_objection_record(
        change=change, customer=CustomerFactory(), received_on=timezone.localdate(), grounds="x", actor=officer
    )
    text = officer_client.get(reverse("admin:index")).content.decode()
    assert "Subprocessor register" in text
    assert "1 open objection" in text


@pytest.mark.parametrize(
    "name", ["subprocessor", "subprocessorchange", "changeobjection", "changenoticedelivery", "expiryreminder"]
)
def test_changelists_run_a_fixed_number_of_queries(
    officer_client, officer, categories, name, django_assert_max_num_queries
):
    from subprocessors.services.notices import change_notices_send_pending
    from subprocessors.services.reminders import expiry_reminders_send

    def grow(n):
        for _ in range(n):
            sub = SubprocessorFactory(internal_owner=officer, data_categories=[categories["support"]])
            LocationFactory(subprocessor=sub, country="DE")
            LocationFactory(subprocessor=sub, country="US", mechanism="eu_us_dpf")
            DPAFactory(
                subprocessor=sub, signed_on=date(2025, 1, 1), review_on=timezone.localdate() + timedelta(days=40)
            )
            change = announce(sub, officer)
            change_objection_record(
                change=change, customer=CustomerFactory(), received_on=timezone.localdate(), grounds="x", actor=officer
            )
            SubscriberFactory()
        change_notices_send_pending()
        expiry_reminders_send()

    url = reverse(f"admin:subprocessors_{name}_changelist")
    grow(2)
    with django_assert_max_num_queries(40) as small:
        assert officer_client.get(url).status_code == 200
    grow(8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert officer_client.get(url).status_code == 200


# ------------------------------------------------------------------------------
# DPA uploads: a real PDF under the size cap, old files deleted, owner-only files
# ------------------------------------------------------------------------------


def _dpa_upload(client, sub, document, version="2026-01"):
    data = _change_form_data(sub)
    index = sub.dpas.count()
    data.update(
        {
            "dpas-TOTAL_FORMS": index + 1,
            f"dpas-{index}-version": version,
            f"dpas-{index}-signed_on": "2026-01-10",
            f"dpas-{index}-review_on": "2027-01-10",
            f"dpas-{index}-document": document,
        }
    )
    return client.post(reverse("admin:subprocessors_subprocessor_change", args=[sub.pk]), data)


def test_an_html_page_named_pdf_is_refused_and_the_form_keeps_what_was_typed(officer_client, active):
    html = ContentFile(b"<html><script>alert(1)</script></html>", name="x.pdf")
    response = _dpa_upload(officer_client, active, html, version="2026-html")
    assert response.status_code == 200
    page = response.content.decode()
    assert "This file is not a PDF" in page
    assert 'value="2026-html"' in page
    assert not DataProcessingAgreement.objects.filter(version="2026-html").exists()
    # The same form with a real PDF is accepted.
    response = _dpa_upload(officer_client, active, ContentFile(b"%PDF-1.7 signed", name="x.pdf"), version="2026-html")
    assert response.status_code == 302
    dpa = DataProcessingAgreement.objects.get(version="2026-html")
    dpa.document.delete(save=False)


def test_a_dpa_over_the_size_cap_is_refused_and_one_at_the_cap_is_accepted(officer_client, active, settings):
    settings.DPA_UPLOAD_MAX_MB = 1
    cap = 1024 * 1024
    too_big = ContentFile(b"%PDF-1.7" + b"0" * (cap - 7), name="big.pdf")
    response = _dpa_upload(officer_client, active, too_big, version="2026-big")
    assert response.status_code == 200
    assert "The document is larger than 1 MB" in response.content.decode()
    assert not DataProcessingAgreement.objects.filter(version="2026-big").exists()
    at_cap = ContentFile(b"%PDF-1.7" + b"0" * (cap - 8), name="big.pdf")
    assert _dpa_upload(officer_client, active, at_cap, version="2026-big").status_code == 302
    dpa = DataProcessingAgreement.objects.get(version="2026-big")
    assert dpa.document.size == cap
    dpa.document.delete(save=False)


def test_replacing_a_dpa_document_deletes_the_old_file_once_saved(
    officer_client, active, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _dpa_upload(officer_client, active, ContentFile(b"%PDF-1.4 first", name="a.pdf")).status_code == 302
    dpa = DataProcessingAgreement.objects.get(version="2026-01")
    first = dpa.document.name
    storage = dpa.document.storage
    assert storage.exists(first)
    data = _change_form_data(active)
    index = next(i for i, row in enumerate(active.dpas.all()) if row.pk == dpa.pk)
    data[f"dpas-{index}-document"] = ContentFile(b"%PDF-1.4 second", name="b.pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(reverse("admin:subprocessors_subprocessor_change", args=[active.pk]), data)
    assert response.status_code == 302
    dpa.refresh_from_db()
    try:
        assert dpa.document.name != first
        assert storage.open(dpa.document.name).read() == b"%PDF-1.4 second"
        assert not storage.exists(first)
    finally:
        dpa.document.delete(save=False)


def test_a_refused_replacement_keeps_the_stored_document(officer_client, active, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _dpa_upload(officer_client, active, ContentFile(b"%PDF-1.4 first", name="a.pdf"))
    dpa = DataProcessingAgreement.objects.get(version="2026-01")
    first = dpa.document.name
    data = _change_form_data(active)
    index = next(i for i, row in enumerate(active.dpas.all()) if row.pk == dpa.pk)
    data[f"dpas-{index}-document"] = ContentFile(b"<html></html>", name="b.pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(reverse("admin:subprocessors_subprocessor_change", args=[active.pk]), data)
    assert response.status_code == 200
    dpa.refresh_from_db()
    try:
        assert dpa.document.name == first
        assert dpa.document.storage.exists(first)
    finally:
        dpa.document.delete(save=False)


def test_deleting_a_dpa_in_the_admin_deletes_its_document(officer_client, active, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _dpa_upload(officer_client, active, ContentFile(b"%PDF-1.4 first", name="a.pdf"))
    dpa = DataProcessingAgreement.objects.get(version="2026-01")
    name, storage = dpa.document.name, dpa.document.storage
    data = _change_form_data(active)
    index = next(i for i, row in enumerate(active.dpas.all()) if row.pk == dpa.pk)
    data[f"dpas-{index}-DELETE"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(reverse("admin:subprocessors_subprocessor_change", args=[active.pk]), data)
    assert response.status_code == 302
    assert not DataProcessingAgreement.objects.filter(pk=dpa.pk).exists()
    assert not storage.exists(name)


def test_private_files_are_readable_by_their_owner_only(officer_client, active):
    import os
    import shutil
    import stat

    from fulfilment.services.common import bundle_storage

    folder = os.path.join(private_storage().location, "dpa", str(active.pk))
    shutil.rmtree(folder, ignore_errors=True)  # made afresh by the upload, as on a new server
    assert _dpa_upload(officer_client, active, ContentFile(b"%PDF-1.4 signed", name="a.pdf")).status_code == 302
    dpa = DataProcessingAgreement.objects.get(version="2026-01")
    try:
        path = dpa.document.path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        # Export bundles are written by the same private storage.
        assert bundle_storage().file_permissions_mode == 0o600
        assert bundle_storage().directory_permissions_mode == 0o700
    finally:
        dpa.document.delete(save=False)
