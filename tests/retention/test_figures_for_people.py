"""Figures rounded for people and evidence tables that fit the page; history says "-" for an empty value."""

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.templatetags.for_people import history_value, milliseconds
from retention.models import RetentionRun, RetentionRunBatch, RunStatus

pytestmark = pytest.mark.django_db


def test_a_run_page_shows_rounded_durations_and_short_digests(client, officer, make_rule):
    rule = make_rule()
    run = RetentionRun.objects.create(
        rule=rule,
        mode="execute",
        status=RunStatus.SUCCEEDED,
        cutoff=timezone.now(),
        timestamp_column="created_at",
        rows_matched=3,
        rows_to_affect=3,
        longest_batch_ms=1412.4400001,
    )
    RetentionRunBatch.objects.create(
        run=run,
        number=1,
        matched=3,
        affected=3,
        skipped_held=0,
        keys_sha256="a" * 64,
        evidence_sha256="b" * 64,
        duration_ms=12.148620999994364,
    )
    client.force_login(officer)
    page = client.get(reverse("admin:retention_retentionrun_change", args=[run.pk])).content.decode()
    assert "12 ms" in page and "1.4 s" in page
    assert "12.148620999994364" not in page and "1412.44" not in page
    assert "a" * 64 not in page.replace(f'title="{"a" * 64}"', "")  # only in the hover text
    assert f'<code title="{"a" * 64}">{"a" * 12}…</code>' in page


def test_figures_and_history_values_for_people():
    assert milliseconds(12.148620999994364) == "12 ms"
    assert milliseconds(2500) == "2.5 s"
    assert milliseconds(None) == "-"
    assert history_value(None) == "-" and history_value("") == "-"
    assert history_value("Ana") == "Ana"
    assert history_value("Deleted user (pk=None)") == "-" and history_value("Deleted user (pk=7)") != "-"


def test_the_history_of_a_request_shows_a_dash_for_an_unassigned_handler(client, officer, agent, baseline):
    from requests_app.services import rights_request_assign, rights_request_open

    request = rights_request_open(
        requester_name="Ana Silva",
        requester_email="ana@example.com",
        regime="uk_gdpr",
        rights=["access"],
        channel="email",
        received_at=None,
        actor=agent,
    )
    rights_request_assign(request=request, assignee=agent, actor=officer)
    rights_request_assign(request=request, assignee=None, actor=officer)
    client.force_login(officer)
    page = client.get(reverse("admin:requests_app_rightsrequest_history", args=[request.pk])).content.decode()
    assert "pk=None" not in page
    assert "&nbsp;&rarr;&nbsp;&nbsp;-</li>" in page  # assigned → nobody
    assert (
        f"-&nbsp;&rarr;&nbsp;&nbsp;{agent}</li>" in page or f"-&nbsp;&rarr;&nbsp;&nbsp;{agent.get_username()}" in page
    )
