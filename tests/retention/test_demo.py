"""The demo step: the default schedule of the policy on the sample platform and the back office's own records."""

from io import StringIO

import pytest

from compliance.datamap import datamap_audit
from compliance.demo import load_demo as load_datamap_demo
from retention.demo import DEFAULT_SCHEDULE, load_demo
from retention.models import LegalHold, RetentionRule, RetentionRun, RunStatus
from retention.selectors import retention_matrix
from sample_platform.demo import load_demo as load_platform_demo


@pytest.mark.django_db(databases=["default", "platform"])
def test_the_demo_ships_the_default_schedule_holds_and_first_runs_and_is_idempotent(officer):
    officer.username = "officer"
    officer.save()
    load_platform_demo(stdout=StringIO())
    load_datamap_demo(stdout=StringIO())
    load_demo(stdout=StringIO())

    names = set(RetentionRule.objects.values_list("name", flat=True))
    assert names == {entry.name for entry in DEFAULT_SCHEDULE}
    assert {r.table.system.slug for r in RetentionRule.objects.select_related("table__system")} == {
        "studio-platform",
        "studio-backoffice",
        "finance-shared-drive",
    }
    assert all(rule.periodic_task is not None for rule in RetentionRule.objects.all())
    invoices = RetentionRule.objects.get(name="Invoices: UK VAT 6 years")
    assert (invoices.period, invoices.period_unit, invoices.period_anchor) == (6, "years", "financial_year_end")
    assert invoices.legal_source == "VAT Notice 700/21"
    assert set(LegalHold.objects.values_list("name", flat=True)) == {"Litigation 2026-14", "HMRC enquiry 2026"}
    sweep = RetentionRun.objects.get(mode="execute")
    assert sweep.status == RunStatus.SUCCEEDED and sweep.rows_affected > 0 and sweep.batch_records.exists()
    assert RetentionRun.objects.filter(mode="dry_run").count() == len(DEFAULT_SCHEDULE)

    # No personal table is left without a rule, and the data map still matches the schemas.
    matrix = retention_matrix()
    assert matrix.tables_without_rule == [] and matrix.categories_without_rule == []
    assert datamap_audit() == []
    tickets = RetentionRule.objects.get(name="Support tickets: 12 months after the last activity")
    assert tickets.trigger_column.name == "last_activity_at"  # a ticket never closed still has a last activity
    billing = RetentionRule.objects.get(table__table_name="organisations")
    assert (billing.action, billing.trigger_column.name) == ("anonymise", "closed_at")
    assert RetentionRule.objects.filter(table__table_name="accounts", action="delete").exists()

    counts = (RetentionRule.objects.count(), LegalHold.objects.count(), RetentionRun.objects.count())
    load_demo(stdout=StringIO())
    assert (RetentionRule.objects.count(), LegalHold.objects.count(), RetentionRun.objects.count()) == counts
