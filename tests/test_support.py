"""The shared factories make records the product itself could have made (tests/support/factories.py)."""

import pytest

from compliance.models import DataCategory
from fulfilment.models import FulfilmentPlan
from requests_app.models import EventType, IdentityOutcome
from tests.support.factories import (
    FulfilmentPlanFactory,
    RequestLineFactory,
    RetentionRuleFactory,
    RightsRequestFactory,
    SubprocessorFactory,
)

pytestmark = pytest.mark.django_db


def test_a_rights_request_from_the_factory_is_logged_with_its_lines_ledger_and_deadline(baseline, agent, officer):
    request = RightsRequestFactory(rights=["access", "erasure"], actor=agent, verified_by=officer)
    assert request.reference.startswith("DSR-")
    assert sorted(request.lines.values_list("right__slug", flat=True)) == ["access", "erasure"]
    assert request.events.filter(type=EventType.RECEIVED).exists()
    assert request.identity_outcome == IdentityOutcome.VERIFIED
    assert request.due_date is not None
    assert RightsRequestFactory().identity_outcome == IdentityOutcome.PENDING  # unverified unless asked


def test_a_line_and_a_plan_from_the_factories_belong_to_a_real_request(baseline):
    line = RequestLineFactory(right="rectification")
    assert (line.right.slug, line.request.lines.count()) == ("rectification", 1)
    plan = FulfilmentPlanFactory()
    assert (plan.kind, plan.line.right.slug, plan.request_id) == ("erasure", "erasure", plan.line.request_id)
    assert plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL


def test_a_retention_rule_from_the_factory_has_its_beat_schedule(minimap, officer):
    rule = RetentionRuleFactory(
        actor=officer, table=minimap.api_requests, trigger_column=minimap.columns["api_requests.created_at"]
    )
    assert (rule.period, rule.period_unit, rule.action) == (90, "days", "delete")
    assert rule.periodic_task is not None and rule.periodic_task.enabled


def test_a_subprocessor_from_the_factory_takes_its_data_categories(baseline):
    vendor = SubprocessorFactory(data_categories=DataCategory.objects.filter(slug="support"))
    assert list(vendor.data_categories.values_list("slug", flat=True)) == ["support"]
