"""Locations, transfer safeguards, DPAs and attestations: bad input is refused; the transfer report shows gaps."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from subprocessors.models import AdequacyDecision, ProcessingLocation, SecurityAttestation
from subprocessors.selectors import transfer_report
from subprocessors.services.register import attestation_save, dpa_save, processing_location_save
from tests.support.factories import AttestationFactory, DPAFactory, LocationFactory, SubprocessorFactory

M = ProcessingLocation.Mechanism


def save(location, officer):
    return processing_location_save(location=location, actor=officer)


@pytest.mark.parametrize(
    ("country", "mechanism", "module", "message"),
    [
        ("CN", M.ADEQUACY, "", "China has no current adequacy decision on record"),
        ("US", M.ADEQUACY, "", "United States of America has no current adequacy decision"),
        ("US", M.NONE_REQUIRED, "", "outside the UK and EEA: a transfer there needs a safeguard"),
        ("CH", M.NONE_REQUIRED, "", "outside the UK and EEA"),
        ("IN", M.EU_SCC, "", "Say which module of the EU SCCs applies."),
        ("IN", M.EU_US_DPF, "", "only covers transfers to the United States"),
    ],
)
def test_a_location_without_the_safeguard_its_country_needs_is_refused_and_not_saved(
    country, mechanism, module, message, officer, baseline
):
    sub = SubprocessorFactory()
    with pytest.raises(ValidationError) as refused:
        save(ProcessingLocation(subprocessor=sub, country=country, mechanism=mechanism, scc_module=module), officer)
    assert message in refused.value.message_dict["mechanism"][0]
    assert not ProcessingLocation.objects.exists()


@pytest.mark.parametrize(
    ("country", "mechanism", "module"),
    [
        ("DE", M.NONE_REQUIRED, ""),
        ("GB", M.NONE_REQUIRED, ""),
        ("JP", M.ADEQUACY, ""),
        ("CA", M.ADEQUACY, ""),
        ("US", M.EU_US_DPF, ""),
        ("US", M.UK_DPF_EXTENSION, ""),
        ("IN", M.EU_SCC, "3"),
        ("US", M.UK_IDTA, ""),
        ("US", M.UK_ADDENDUM, "2"),
        ("SG", M.BCR, ""),
        ("BR", M.ADEQUACY, ""),
    ],
)
def test_a_location_with_a_fitting_safeguard_is_accepted(country, mechanism, module, officer, baseline):
    sub = SubprocessorFactory()
    location = save(
        ProcessingLocation(subprocessor=sub, country=country, mechanism=mechanism, scc_module=module), officer
    )
    assert location.pk and not location.is_pending


def test_a_module_is_refused_on_a_mechanism_without_modules(officer, baseline):
    with pytest.raises(ValidationError) as refused:
        save(
            ProcessingLocation(subprocessor=SubprocessorFactory(), country="IN", mechanism=M.UK_IDTA, scc_module="2"),
            officer,
        )
    assert "scc_module" in refused.value.message_dict


def test_the_database_refuses_sccs_without_a_module(baseline):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcessingLocation.objects.create(subprocessor=SubprocessorFactory(), country="IN", mechanism=M.EU_SCC)


def test_an_attestation_expiring_before_its_issue_date_is_refused(officer, baseline):
    sub = SubprocessorFactory()
    attestation = SecurityAttestation(
        subprocessor=sub, kind="iso27001", issued_on=date(2026, 5, 1), expires_on=date(2026, 4, 30)
    )
    with pytest.raises(ValidationError) as refused:
        attestation_save(attestation=attestation, actor=officer)
    assert refused.value.message_dict["expires_on"] == ["The expiry date must come after the issue date."]
    assert not SecurityAttestation.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        attestation.save()


def test_a_dpa_reviewed_before_it_was_signed_is_refused(officer, baseline):
    dpa = DPAFactory.build(subprocessor=SubprocessorFactory(), signed_on=date(2026, 5, 1), review_on=date(2026, 5, 1))
    with pytest.raises(ValidationError) as refused:
        dpa_save(dpa=dpa, actor=officer)
    assert "review_on" in refused.value.message_dict


def test_a_location_in_use_cannot_be_moved_to_another_country(active, officer):
    location = active.locations.get()
    location.country = "FR"
    with pytest.raises(ValidationError, match="cannot move to another country"):
        save(location, officer)


def test_the_transfer_report_lists_each_data_category_with_countries_vendors_and_safeguards(
    active, officer, categories
):
    us = SubprocessorFactory(trading_name="Keystone", data_categories=[categories["account-identity"]])
    LocationFactory(subprocessor=us, country="US", mechanism=M.EU_US_DPF)
    report = transfer_report()
    rows = {(r.data_category, r.country_code, str(r.subprocessor), r.mechanism) for r in report.rows}
    assert ("Account and identity data", "IE", "Nimbus", "None required (UK/EEA)") in rows
    assert ("Account and identity data", "US", "Keystone", "EU-US Data Privacy Framework certification") in rows
    assert ("API and usage data", "IE", "Nimbus", "None required (UK/EEA)") in rows
    assert "Content data" in report.categories_without_transfers
    assert report.gaps == []


def test_the_transfer_report_flags_a_country_whose_adequacy_decision_lapsed(active, officer, categories):
    sub = SubprocessorFactory(trading_name="Sakura", data_categories=[categories["content"]])
    LocationFactory(subprocessor=sub, country="JP", mechanism=M.ADEQUACY)
    AdequacyDecision.objects.filter(country="JP").update(valid_until=timezone.localdate() - timedelta(days=1))
    gaps = transfer_report().gaps
    assert [(g.country_code, str(g.subprocessor)) for g in gaps] == [("JP", "Sakura")]
    assert "no current adequacy decision" in gaps[0].problem


def test_the_transfer_report_flags_a_location_with_no_safeguard_outside_the_adequacy_list(categories, baseline):
    sub = SubprocessorFactory(trading_name="Legacy", data_categories=[categories["support"]])
    # Imported before the register checked safeguards: the report must still catch it.
    ProcessingLocation.objects.create(subprocessor=sub, country="CN", mechanism=M.NONE_REQUIRED)
    gaps = transfer_report().gaps
    assert [(g.data_category, g.country_code) for g in gaps] == [("Support data", "CN")]


def test_retired_vendors_are_left_out_of_the_transfer_report(categories, baseline):
    sub = SubprocessorFactory(status="retired", data_categories=[categories["support"]])
    LocationFactory(subprocessor=sub, country="DE")
    assert transfer_report().rows == []


def test_superseded_attestations_are_not_current(baseline):
    from subprocessors.selectors import current_attestations

    sub = SubprocessorFactory()
    old = AttestationFactory(subprocessor=sub, issued_on=date(2024, 1, 1), expires_on=date(2025, 1, 1))
    new = AttestationFactory(subprocessor=sub, issued_on=date(2025, 1, 1), expires_on=date(2026, 1, 1))
    assert list(current_attestations()) == [new]
    assert old not in current_attestations()


def test_the_transfer_report_warns_that_an_art49_derogation_only_covers_occasional_transfers(categories, officer):
    sub = SubprocessorFactory(trading_name="Rare", data_categories=[categories["support"]])
    save(ProcessingLocation(subprocessor=sub, country="IN", mechanism=M.ART49_DEROGATION), officer)
    (row,) = transfer_report().rows
    assert row.problem == ""
    assert "occasional transfers only" in row.warning
