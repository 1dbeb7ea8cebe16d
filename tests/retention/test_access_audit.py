"""Approving a retention run is an access event, recorded through the admin's button and list action."""

import pytest
from django.urls import reverse

from retention.models import RunStatus
from security.models import AccessEvent
from tests.audit_helpers import events, the_event
from tests.retention.test_admin import _run

pytestmark = pytest.mark.django_db


def test_approving_a_run_with_its_button_is_recorded_and_a_refused_approval_is_not(client, officer, auditor, make_rule):
    run = _run(make_rule())
    approve = reverse("admin:retention_run_approve", args=[run.pk])
    client.force_login(auditor)
    assert client.post(approve).status_code == 403
    assert not events(AccessEvent.Action.APPROVED_RUN).exists()
    client.force_login(officer)
    assert client.post(approve).status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    the_event(AccessEvent.Action.APPROVED_RUN, run, officer)


def test_approving_runs_with_the_list_action_is_recorded(client, officer, make_rule):
    run = _run(make_rule())
    client.force_login(officer)
    client.post(
        reverse("admin:retention_retentionrun_changelist"), {"action": "approve_runs", "_selected_action": [run.pk]}
    )
    the_event(AccessEvent.Action.APPROVED_RUN, run, officer)
