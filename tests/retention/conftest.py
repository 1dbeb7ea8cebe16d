"""Fixtures for retention. The small data map (``minimap``) and ``make_rule`` are shared with the
browser tests: see ``tests/support/retention.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.retention.platform import build_platform_map, visitor_events
from tests.support.factories import RetentionRuleFactory


@pytest.fixture
def rule(baseline, officer):
    """A rule on the platform's visitor events (nine old rows, one recent), three rows a batch."""
    pmap = build_platform_map()
    old = timezone.now() - timedelta(days=200)
    visitor_events([(pk, None, old + timedelta(minutes=pk)) for pk in range(1, 10)] + [(50, None, timezone.now())])
    return RetentionRuleFactory(
        actor=officer,
        name="Website visitor events: 90 days",
        table=pmap.tables["visitor_events"],
        trigger_column=pmap.columns["visitor_events.created_at"],
        justification="Website analytics are kept 90 days.",
        batch_size=3,
    )
