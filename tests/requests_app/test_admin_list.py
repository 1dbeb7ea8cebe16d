"""The request list as an officer uses it: dates and days left, labels, date-range filters, sorting,
search that finds a request by what people remember, and bulk assignment to a named person."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from requests_app.models import RightsRequest
from tests.requests_app.conftest import aware

LIST = "admin:requests_app_rightsrequest_changelist"


def _list(client, query="", as_user=None):
    if as_user is not None:  # after a time jump the idle session has ended
        client.force_login(as_user)
    # A search (?q=) is moved to the session and redirected to ?s=<token> (security.admin_search): follow it.
    response = client.get(reverse(LIST) + query, follow=True)
    assert response.status_code == 200
    return response


def _refs(response):
    return [obj.reference for obj in response.context["cl"].result_list]


def _column(response, name):
    """The ?o= index of a list_display column (the action checkbox is column 0)."""
    return response.context["cl"].list_display.index(name)


def test_the_list_shows_the_received_date_labels_and_days_left_or_overdue(client, officer, open_request):
    open_request(received_at=aware(2025, 9, 3), rights=["access", "erasure"])
    client.force_login(officer)
    with time_machine.travel(aware(2025, 9, 21, 12), tick=False):
        page = _list(client, as_user=officer).content.decode()
    assert "3 September 2025" in page  # received
    assert "3 October 2025 (12 days left)" in page
    assert "UK GDPR" in page and "Erasure" in page
    assert ">uk_gdpr<" not in page and "access, erasure" not in page
    with time_machine.travel(aware(2025, 10, 6, 12), tick=False):
        page = _list(client, as_user=officer).content.decode()
    assert "3 October 2025 (3 days overdue)" in page
    with time_machine.travel(aware(2025, 10, 3, 12), tick=False):
        assert "(due today)" in _list(client, as_user=officer).content.decode()


def test_the_request_page_and_its_lines_say_how_many_days_are_left(client, officer, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    with time_machine.travel(aware(2025, 10, 2, 12), tick=False):
        client.force_login(officer)
        page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
        lines = client.get(reverse("admin:requests_app_requestline_changelist")).content.decode()
    assert page.count("3 October 2025 (1 day left)") >= 2  # the request and its line
    assert "3 October 2025 (1 day left)" in lines


def test_date_range_filters_on_received_and_due_dates(client, officer, open_request):
    early = open_request(received_at=aware(2025, 8, 1), email="early@example.com")
    late = open_request(received_at=aware(2025, 9, 15), email="late@example.com")
    client.force_login(officer)
    assert _refs(_list(client, "?received_at_from=2025-09-01&received_at_to=2025-09-30")) == [late.reference]
    assert _refs(_list(client, "?received_at_to=2025-08-01")) == [early.reference]  # the "to" day is included
    assert _refs(_list(client, f"?due_date_from={late.due_date}")) == [late.reference]
    assert _refs(_list(client, f"?due_date_to={early.due_date}")) == [early.reference]
    # Other filters survive the date form: it carries them as hidden fields.
    page = _list(client, "?open=yes&due_date_from=2025-01-01").content.decode()
    assert '<input type="hidden" name="open" value="yes">' in page
    assert 'name="due_date_from" value="2025-01-01"' in page


def test_a_date_that_is_not_a_date_is_said_and_ignored_not_an_error_page(client, officer, open_request):
    open_request(received_at=aware(2025, 8, 1))
    client.force_login(officer)
    response = _list(client, "?received_at_from=yesterday")
    assert "&#x27;yesterday&#x27; is not a date" in response.content.decode()
    assert len(_refs(response)) == 1


def test_the_list_sorts_by_due_date_and_by_sla(client, officer, open_request, verified):
    from requests_app.services import rights_request_close

    with time_machine.travel(aware(2025, 10, 1, 12), tick=False):
        overdue = open_request(received_at=aware(2025, 8, 1), email="a@example.com")
        soon = open_request(received_at=aware(2025, 9, 3), email="b@example.com")
        later = open_request(received_at=aware(2025, 9, 25), email="c@example.com")
        answered = open_request(received_at=aware(2025, 7, 1), email="d@example.com")
        verified(answered)
        line = answered.lines.get()
        from requests_app.services import request_line_complete

        request_line_complete(line=line, outcome="fulfilled", reason="", actor=officer)
        rights_request_close(request=answered, actor=officer)
        client.force_login(officer)
        first = _list(client)
        due, sla = _column(first, "due"), _column(first, "sla")
        by_due = _refs(_list(client, f"?o={due}"))
        by_sla = _refs(_list(client, f"?o={sla}"))
        by_sla_desc = _refs(_list(client, f"?o=-{sla}"))
    assert by_due == [answered.reference, overdue.reference, soon.reference, later.reference]
    # Overdue first, then the soonest due, answered last.
    assert by_sla == [overdue.reference, soon.reference, later.reference, answered.reference]
    assert by_sla_desc == list(reversed(by_sla))


@pytest.fixture
def searchable(open_request):
    with time_machine.travel(aware(2026, 2, 2, 10), tick=False):
        ana = open_request(
            requester_name="Ana Maria Silva", email="ana.silva@example.com", received_at=aware(2026, 2, 1)
        )
        bo = open_request(requester_name="Bo Chen", email="bo@other.org", received_at=aware(2026, 2, 1))
    return ana, bo


@pytest.mark.parametrize(
    "term, who",
    [
        ("{ana_number}", "ana"),  # the number alone, zero-padded as printed
        ("{ana_short}", "ana"),  # the number without its zeros
        ("{ana_reference}", "ana"),
        ("ana.silva", "ana"),  # the email's local part
        ("example.com", "ana"),  # its domain
        ("@other.org", "bo"),
        ("ana.silva@example.com", "ana"),
        ("Maria", "ana"),  # any part of the name
        ("chen", "bo"),
    ],
)
def test_search_finds_a_request_by_number_email_part_or_name(client, officer, searchable, term, who):
    ana, bo = searchable
    number = ana.reference.rsplit("-", 1)[1]
    term = term.format(ana_number=number, ana_short=str(int(number)), ana_reference=ana.reference)
    client.force_login(officer)
    assert _refs(_list(client, f"?q={term}")) == [{"ana": ana, "bo": bo}[who].reference]


def test_search_says_what_it_covers_and_a_near_miss_finds_nothing(client, officer, searchable):
    client.force_login(officer)
    page = _list(client).content.decode()
    assert "Search by reference" in page and "any part of the name" in page
    assert _refs(_list(client, "?q=silva@")) == []  # not the local part
    assert _refs(_list(client, "?q=99999")) == []


def _assign_post(requests, **extra):
    return {"action": "assign_to", "_selected_action": [r.pk for r in requests], "index": 0, **extra}


def test_an_officer_assigns_selected_requests_to_a_named_agent_through_a_confirmation_page(
    client, officer, agent, auditor, open_request
):
    one = open_request(email="one@example.com")
    two = open_request(email="two@example.com")
    client.force_login(officer)
    page = client.post(reverse(LIST), _assign_post([one, two]))
    assert page.status_code == 200
    choices = {user.pk for user in page.context["form"].fields["assignee"].queryset}
    # Those who may handle requests; not the auditor, who only reads.
    assert agent.pk in choices and officer.pk in choices and auditor.pk not in choices
    html = page.content.decode()
    assert one.reference in html and two.reference in html and "Assign 2 requests" in html
    assert RightsRequest.objects.filter(assignee__isnull=False).count() == 0  # nothing until confirmed

    done = client.post(reverse(LIST), _assign_post([one, two], apply="1", assignee=agent.pk))
    assert done.status_code == 302
    for request in (one, two):
        request.refresh_from_db()
        assert request.assignee == agent
        assert request.history.first().history_user == officer
    messages = [str(m) for m in client.get(done.url).context["messages"]]
    assert any("2 request(s) assigned to" in m for m in messages)


def test_assigning_to_someone_who_cannot_handle_requests_is_refused_and_changes_nothing(
    client, officer, auditor, open_request
):
    request = open_request()
    client.force_login(officer)
    response = client.post(reverse(LIST), _assign_post([request], apply="1", assignee=auditor.pk))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    request.refresh_from_db()
    assert request.assignee is None


def test_the_service_refuses_an_assignee_without_a_request_role(officer, agent, auditor, open_request):
    from django.core.exceptions import ValidationError

    from requests_app.services import rights_request_assign

    request = open_request()
    with pytest.raises(ValidationError, match="cannot handle rights requests"):
        rights_request_assign(request=request, assignee=auditor, actor=officer)
    assert rights_request_assign(request=request, assignee=agent, actor=officer).assignee == agent


def test_an_agent_cannot_assign_requests_in_bulk(client, agent, officer, open_request):
    request = open_request()
    client.force_login(agent)
    client.post(reverse(LIST), _assign_post([request], apply="1", assignee=agent.pk))
    request.refresh_from_db()
    assert request.assignee is None


def test_the_assignee_field_of_the_request_page_offers_only_handlers(client, officer, agent, auditor, open_request):
    request = open_request()
    client.force_login(officer)
    form = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).context["adminform"].form
    choices = set(form.fields["assignee"].queryset.values_list("pk", flat=True))
    assert {agent.pk, officer.pk} <= choices and auditor.pk not in choices
    add_form = client.get(reverse("admin:requests_app_rightsrequest_add")).context["adminform"].form
    assert auditor.pk not in set(add_form.fields["assignee"].queryset.values_list("pk", flat=True))


def test_received_column_is_the_local_day(client, officer, open_request):
    # 23:30 UTC on 31 Aug is 00:30 on 1 Sep in London (BST): people see the day it was there.
    open_request(received_at=timezone.make_aware(dt.datetime(2025, 8, 31, 23, 30), dt.UTC))
    client.force_login(officer)
    assert "1 September 2025" in _list(client).content.decode()
