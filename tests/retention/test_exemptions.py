"""What erasure must keep, and why: holds at every scope and legal-obligation rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.connectors.base import Subject
from compliance.models import DataCategory, LegalBasis
from retention.selectors import erasure_exemptions, held_subjects_for
from retention.services import legal_hold_place, legal_hold_release

ANN = Subject(account_ref="42", email="ann@example.com")
BOB = Subject(account_ref="43", email="bob@example.com")


def tables(minimap):
    return [minimap.accounts, minimap.api_requests, minimap.prompts, minimap.invoices]


@pytest.mark.django_db
def test_nothing_is_exempt_without_holds_or_legal_obligations(minimap, make_rule):
    make_rule()  # legitimate interests: does not keep anything from erasure
    assert erasure_exemptions(subject=ANN, tables=tables(minimap)) == {}


@pytest.mark.django_db
def test_a_legal_obligation_rule_keeps_its_table_and_names_its_source(minimap, make_rule):
    make_rule(
        name="Invoices: UK VAT 6 years",
        table=minimap.invoices,
        data_category=DataCategory.objects.get(slug="billing-transactions"),
        trigger_column=minimap.columns["invoices.issued_at"],
        legal_basis=LegalBasis.objects.get(slug="legal-obligation"),
        legal_source="VAT Notice 700/21",
        period=6,
        period_unit="years",
    )
    exempt = erasure_exemptions(subject=ANN, tables=tables(minimap))
    assert {pk: e.reason for pk, e in exempt.items()} == {
        minimap.invoices.pk: "Retention rule 'Invoices: UK VAT 6 years' (legal obligation: VAT Notice 700/21)"
    }
    # A rule keeps only the rows inside its period, not the whole table.
    keep = exempt[minimap.invoices.pk]
    assert not keep.whole_table
    assert keep.rules[0].timestamp_column == "issued_at" and keep.rules[0].cutoff < timezone.now()


@pytest.mark.django_db
def test_a_subject_hold_keeps_every_table_of_that_subject_only(minimap, officer):
    legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="42")
    exempt = erasure_exemptions(subject=ANN, tables=tables(minimap))
    assert set(exempt) == {t.pk for t in tables(minimap)}
    assert exempt[minimap.accounts.pk].reason == "Legal hold 'Litigation 2026-14' (litigation)"
    assert exempt[minimap.accounts.pk].whole_table
    assert erasure_exemptions(subject=BOB, tables=tables(minimap)) == {}


@pytest.mark.django_db
def test_a_subject_hold_by_email_matches_case_insensitively(minimap, officer):
    legal_hold_place(actor=officer, name="Dispute", reason="dispute", subject_email="Ann@Example.com")
    assert len(erasure_exemptions(subject=Subject(email="ANN@example.com"), tables=tables(minimap))) == 4


@pytest.mark.django_db
def test_a_category_hold_keeps_only_tables_holding_that_category_for_everyone(minimap, officer):
    legal_hold_place(
        actor=officer,
        name="Usage inquiry",
        reason="regulator_inquiry",
        data_category=DataCategory.objects.get(slug="api-usage"),
    )
    assert set(erasure_exemptions(subject=BOB, tables=tables(minimap))) == {minimap.api_requests.pk}


@pytest.mark.django_db
def test_a_system_hold_keeps_every_table_of_the_system(minimap, officer):
    legal_hold_place(actor=officer, name="Platform freeze", reason="litigation", system=minimap.system)
    assert len(erasure_exemptions(subject=BOB, tables=tables(minimap))) == 4


@pytest.mark.django_db
def test_a_table_hold_combined_with_a_subject_keeps_that_table_of_that_subject(minimap, officer):
    legal_hold_place(
        actor=officer, name="Prompt dispute", reason="dispute", table=minimap.prompts, subject_account_ref="42"
    )
    assert set(erasure_exemptions(subject=ANN, tables=tables(minimap))) == {minimap.prompts.pk}
    assert erasure_exemptions(subject=BOB, tables=tables(minimap)) == {}
    assert held_subjects_for(table=minimap.prompts) == [Subject(account_ref="42")]
    assert held_subjects_for(table=minimap.invoices) == []


@pytest.mark.django_db
def test_released_expired_and_future_holds_keep_nothing(minimap, officer):
    hold = legal_hold_place(actor=officer, name="Released", reason="dispute", subject_account_ref="42")
    legal_hold_release(hold_id=hold.pk, actor=officer, reason="Settled")
    now = timezone.now()
    legal_hold_place(
        actor=officer,
        name="Expired",
        reason="dispute",
        subject_account_ref="42",
        starts_at=now - timedelta(days=10),
        ends_at=now - timedelta(days=1),
    )
    legal_hold_place(
        actor=officer, name="Future", reason="dispute", subject_account_ref="42", starts_at=now + timedelta(days=1)
    )
    assert erasure_exemptions(subject=ANN, tables=tables(minimap)) == {}
    assert held_subjects_for(table=minimap.accounts) == []


@pytest.mark.django_db
def test_holds_and_rules_together_are_all_named_holds_first(minimap, officer, make_rule):
    make_rule(
        name="Invoices: UK VAT 6 years",
        table=minimap.invoices,
        data_category=DataCategory.objects.get(slug="billing-transactions"),
        trigger_column=minimap.columns["invoices.issued_at"],
        legal_basis=LegalBasis.objects.get(slug="legal-obligation"),
        legal_source="VAT Notice 700/21",
        period=6,
        period_unit="years",
    )
    legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="42")
    assert {pk: e.reason for pk, e in erasure_exemptions(subject=ANN, tables=[minimap.invoices]).items()} == {
        minimap.invoices.pk: "Legal hold 'Litigation 2026-14' (litigation); "
        "Retention rule 'Invoices: UK VAT 6 years' (legal obligation: VAT Notice 700/21)"
    }


@pytest.mark.django_db
def test_exemptions_take_a_fixed_number_of_queries(minimap, officer, django_assert_max_num_queries):
    legal_hold_place(actor=officer, name="A", reason="dispute", subject_account_ref="42")
    legal_hold_place(actor=officer, name="B", reason="dispute", system=minimap.system)
    with django_assert_max_num_queries(4):
        erasure_exemptions(subject=ANN, tables=tables(minimap))
