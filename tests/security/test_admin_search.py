"""Admin searches keep their terms out of URLs (security.admin_search).

Staff search the request list by an email address or a name. The term is posted; the list keeps it in
the session and carries an opaque ``?s=<token>``: no address the browser requests, is redirected to or
finds in the page's links (pages, sorting, filters, the way into a record and back, the CSV export, the
clear-search link) holds the term, and pagination, filters, sorting and exports still apply it.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.urls import reverse

from requests_app.models import RightsRequest
from security.admin_search import SAVED_SEARCH_VAR
from tests.security.test_least_privilege import _logged_in
from tests.support.factories import RightsRequestFactory

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

LIST = "admin:requests_app_rightsrequest_changelist"
EMAIL = "zephyrine.quillfeather@example.org"
NAME = "Zephyrine Quillfeather"


def _forms(text: str) -> list[str]:
    """The term as a URL could carry it: as typed, percent-encoded, form-encoded, its local part."""
    return [text, quote(text), quote_plus(text), quote(text, safe=""), text.split("@")[0]]


def _urls(page: str) -> list[str]:
    """Every address a page links to, posts to or loads."""
    return [unescape(url) for url in re.findall(r'(?:href|action|src)="([^"]*)"', page)]


def _leaks(urls: list[str], *terms: str) -> list[str]:
    return [url for url in urls for term in terms for form in _forms(term) if form in url or form in unquote(url)]


def _search(client, term: str, path: str | None = None):
    """Type ``term`` in the list's search box and press Enter: the form as the page draws it."""
    path = path or reverse(LIST)
    page = client.get(path).content.decode()
    form = re.search(r'<form id="changelist-search" method="post" action="([^"]*)"', page)
    assert form is not None, "the search box posts its term"
    assert 'name="_search"' in page and 'name="csrfmiddlewaretoken"' in page
    return client.post(urlsplit(path).path + unescape(form.group(1)), {SEARCH_VAR: term, "_search": "1"})


def _references(response) -> list[str]:
    return sorted(obj.reference for obj in response.context["cl"].result_list)


@pytest.fixture
def people(agent):
    """Three requests by the person searched for (two pages of two), and two by others."""
    theirs = [
        RightsRequestFactory(requester_name=NAME, requester_email=EMAIL, actor=agent, channel=channel)
        for channel in ("email", "email", "web_form")
    ]
    others = [
        RightsRequestFactory(requester_name="Bo Chen", requester_email="bo@other.org", actor=agent),
        RightsRequestFactory(requester_name="Ana Silva", requester_email="ana@example.com", actor=agent),
    ]
    return theirs, others


@pytest.fixture
def two_per_page(monkeypatch):
    monkeypatch.setattr(admin.site._registry[RightsRequest], "list_per_page", 2)


def test_a_search_by_email_puts_the_address_in_no_url_and_pages_sort_filter_export_keep_it(
    officer, people, two_per_page
):
    theirs, others = people
    mine = sorted(r.reference for r in theirs)
    client = _logged_in(officer)

    searched = _search(client, EMAIL)
    assert searched.status_code == 302
    location = searched["Location"]
    assert f"{SAVED_SEARCH_VAR}=" in location and _leaks([location], EMAIL) == []

    first = client.get(location)
    assert first.status_code == 200
    page = first.content.decode()
    assert first.context["cl"].query == EMAIL and f'value="{EMAIL}"' in page  # the box shows what was searched
    assert first.context["cl"].result_count == 3 and len(first.context["cl"].result_list) == 2
    urls = _urls(page)
    assert len(urls) > 20 and _leaks(urls, EMAIL) == []
    token = re.search(rf"[?&]{SAVED_SEARCH_VAR}=([\w-]+)", location).group(1)

    # The second page: the third of their requests, nobody else's.
    next_page = next(url for url in urls if "p=2" in url and f"{SAVED_SEARCH_VAR}={token}" in url)
    second = client.get(reverse(LIST) + next_page)
    assert second.status_code == 200 and len(second.context["cl"].result_list) == 1
    assert sorted(_references(first) + _references(second)) == mine
    assert _leaks(_urls(second.content.decode()), EMAIL) == []

    # Sorting and a filter keep the search.
    sort = next(url for url in urls if "o=" in url and f"{SAVED_SEARCH_VAR}={token}" in url)
    assert client.get(reverse(LIST) + sort).context["cl"].result_count == 3
    web_form = next(url for url in urls if "channel__exact=web_form" in url)
    assert f"{SAVED_SEARCH_VAR}={token}" in web_form
    filtered = client.get(reverse(LIST) + web_form)
    assert _references(filtered) == [theirs[2].reference]

    # Into a record and back: the way back carries the token.
    shown = first.context["cl"].result_list[0]
    change = next(url for url in urls if f"/{shown.pk}/change/" in url)
    assert "_changelist_filters" in change and _leaks([change], EMAIL) == []
    record = client.get(change)
    assert record.status_code == 200 and _leaks(_urls(record.content.decode()), EMAIL) == []

    # The CSV export of the searched list holds their requests only (the export link carries the token).
    export = next(url for url in urls if "export-log" in url)
    assert f"{SAVED_SEARCH_VAR}={token}" in export
    rows = list(csv.DictReader(io.StringIO(client.get(export).content.decode())))
    assert sorted(row["reference"] for row in rows) == mine

    # Clear search: the filter stays, the search goes.
    filtered_page = filtered.content.decode()
    clear = unescape(re.search(r'<a href="([^"]*)" class="clear-search">Clear search</a>', filtered_page).group(1))
    assert f"{SAVED_SEARCH_VAR}=" not in clear and "channel__exact=web_form" in clear
    other = RightsRequestFactory(requester_name="Cy Web", requester_email="cy@web.example", channel="web_form")
    cleared = client.get(reverse(LIST) + clear)
    assert cleared.context["cl"].query == "" and _references(cleared) == sorted([theirs[2].reference, other.reference])
    assert len(others) == 2 and all(o.reference not in _references(cleared) for o in others)


def test_a_search_by_name_keeps_the_name_out_of_urls(officer, people):
    theirs, _ = people
    client = _logged_in(officer)
    searched = _search(client, "Quillfeather")
    assert "Quillfeather" not in searched["Location"]
    listed = client.get(searched["Location"])
    assert _references(listed) == sorted(r.reference for r in theirs)
    assert _leaks(_urls(listed.content.decode()), "Quillfeather") == []


def test_a_search_posted_from_a_filtered_list_keeps_its_filters_and_starts_at_page_one(officer, people):
    theirs, _ = people
    client = _logged_in(officer)
    searched = _search(client, EMAIL, reverse(LIST) + "?channel__exact=web_form&p=2")
    location = searched["Location"]
    assert "channel__exact=web_form" in location and "p=2" not in location
    assert _references(client.get(location)) == [theirs[2].reference]


def test_an_empty_search_clears_it(officer, people):
    client = _logged_in(officer)
    searched = _search(client, "   ")
    assert searched["Location"] == reverse(LIST)


def test_a_q_address_is_moved_out_of_the_url_and_still_searches(officer, people):
    theirs, _ = people
    client = _logged_in(officer)
    response = client.get(reverse(LIST), {SEARCH_VAR: EMAIL, "channel__exact": "email"})
    assert response.status_code == 302
    assert _leaks([response["Location"]], EMAIL) == [] and "channel__exact=email" in response["Location"]
    assert _references(client.get(response["Location"])) == sorted(r.reference for r in theirs[:2])


def test_a_token_means_nothing_to_another_session(officer, people):
    client = _logged_in(officer)
    location = _search(client, EMAIL)["Location"]
    other = _logged_in(officer)  # another sign-in, another browser
    refused = other.get(location)
    assert refused.status_code == 302 and f"{SAVED_SEARCH_VAR}=" not in refused["Location"]
    page = other.get(refused["Location"]).content.decode()
    assert "That search has expired" in page and EMAIL not in page
    # An export with another session's token exports nothing rather than the whole table.
    export = other.get(reverse("admin:requests_app_rightsrequest_export_log") + "?" + urlsplit(location).query)
    assert list(csv.DictReader(io.StringIO(export.content.decode()))) == []
    # The session that made it still has it.
    assert client.get(location).context["cl"].result_count == 3


def test_a_search_post_needs_the_csrf_token(officer, people):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.cookies = _logged_in(officer).cookies
    response = client.post(reverse(LIST), {SEARCH_VAR: EMAIL, "_search": "1"})
    assert response.status_code == 403


def _searchable_lists():
    return sorted(
        (model._meta.app_label, model._meta.model_name)
        for model, model_admin in admin.site._registry.items()
        if model_admin.search_fields
    )


@pytest.mark.parametrize(("app_label", "model_name"), _searchable_lists())
def test_every_admin_list_with_a_search_box_posts_its_term(superuser, app_label, model_name):
    """Django's users, the subscribers' addresses, the access audit's names, third-party apps' lists..."""
    path = reverse(f"admin:{app_label}_{model_name}_changelist")
    client = _logged_in(superuser)
    page = client.get(path).content.decode()
    assert 'method="get"' not in re.search(r'<form id="changelist-search"[^>]*>', page).group(0)
    searched = _search(client, EMAIL, path)
    assert searched.status_code == 302 and _leaks([searched["Location"]], EMAIL) == []
    listed = client.get(searched["Location"])
    assert listed.status_code == 200 and listed.context["cl"].query == EMAIL
    assert _leaks(_urls(listed.content.decode()), EMAIL) == []


def test_the_searchable_lists_include_those_holding_personal_data():
    lists = {f"{app}.{model}" for app, model in _searchable_lists()}
    assert {
        "requests_app.rightsrequest",
        "subprocessors.noticesubscriber",
        "subprocessors.changenoticedelivery",
        "security.accessevent",
        "auth.user",
    } <= lists


def _sessions_holding(term: str) -> int:
    from django.contrib.sessions.models import Session

    return sum(term in str(session.get_decoded()) for session in Session.objects.all())


def test_the_beat_job_forgets_timed_out_sessions_and_the_searches_they_kept(officer, people, settings):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from security.tasks import expired_sessions_clear_task

    client = _logged_in(officer)
    _search(client, EMAIL)
    assert _sessions_holding(EMAIL) == 1  # the search is kept in the session (and only there)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)):
        fresh = _logged_in(officer)  # signed in after the other timed out: kept
        _search(fresh, "Quillfeather")
        expired_sessions_clear_task.apply().get()
        assert _sessions_holding(EMAIL) == 0 and _sessions_holding("Quillfeather") == 1
        assert fresh.get(reverse(LIST)).status_code == 200


def test_signing_out_forgets_the_searches_at_once(officer, people):
    client = _logged_in(officer)
    _search(client, EMAIL)
    assert client.post(reverse("admin:logout")).status_code == 200
    assert _sessions_holding(EMAIL) == 0


def test_autocomplete_searches_only_lists_without_personal_data():
    """Django's autocomplete widgets search with GET ?term= (its JavaScript cannot post): they may only point
    at lists of organisations, never of people. Add one for a list of people and this fails."""
    targets = {
        model_admin.model._meta.get_field(name).related_model._meta.label
        for model_admin in admin.site._registry.values()
        for name in model_admin.autocomplete_fields
    }
    assert targets == {"subprocessors.CustomerContract"}  # customers are organisations (its name's help text)
