"""Admin 403 and 404 pages in the admin's look, saying what the person can do; the CSRF failure page in the
admin's and the public pages' look; the favicon."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_an_agent_refused_a_page_sees_the_admin_403_with_what_to_do_instead(client, agent):
    client.force_login(agent)
    response = client.get(reverse("admin:retention_legalhold_changelist"))
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="site-name"' in page  # the admin's header
    assert "Your role does not allow this" in page and "Support agent" in page
    assert reverse("admin:requests_app_rightsrequest_changelist") in page  # what the agent can open instead
    assert "ask a compliance officer" in page
    # The page the agent may open still opens, in the same look.
    ok = client.get(reverse("admin:requests_app_rightsrequest_changelist"))
    assert ok.status_code == 200 and 'id="site-name"' in ok.content.decode()


def test_an_auditor_refused_a_step_sees_the_403_without_the_log_a_request_hint(client, auditor):
    client.force_login(auditor)
    response = client.get(reverse("admin:retention_legalhold_add"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Auditor" in page and "Your role does not allow this" in page and "or log a new one" not in page


def test_a_missing_admin_record_shows_the_admin_404_with_a_way_to_find_it(client, officer):
    client.force_login(officer)
    response = client.get("/admin/requests_app/rightsrequest/999999/close/")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'id="site-name"' in page and "Nothing here" in page
    assert "search by its number alone" in page
    unknown = client.get("/admin/no-such-page/")
    assert unknown.status_code == 404 and "Nothing here" in unknown.content.decode()


def test_public_errors_do_not_show_the_admin(client, officer):
    client.force_login(officer)
    response = client.get("/subprocessors/no-such-thing/")
    assert response.status_code == 404
    assert 'id="site-name"' not in response.content.decode()


def test_anonymous_visitors_are_still_sent_to_the_login_page(client):
    response = client.get("/admin/no-such-page/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_favicon_is_served_and_linked_from_admin_pages(client, officer):
    icon = client.get("/favicon.svg")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    assert client.get("/favicon.ico")["Location"] == "/favicon.svg"
    client.force_login(officer)
    assert '<link rel="icon" type="image/svg+xml" href="/favicon.svg">' in client.get("/admin/").content.decode()


EMAIL = "zephyrine.quillfeather@example.org"


def test_a_public_form_sent_without_its_csrf_token_says_the_form_expired_in_the_public_look(baseline):
    browser = Client(enforce_csrf_checks=True)
    assert browser.get("/subprocessors/").status_code == 200  # the page sets the CSRF cookie
    response = browser.post("/subprocessors/subscribe/", {"email": EMAIL, "csrfmiddlewaretoken": "stale" * 8})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page and "reload it" in page and "nothing was sent or changed" in page
    assert '<meta name="robots" content="noindex, nofollow">' in page  # the public pages' look
    assert 'id="site-name"' not in page and "CSRF verification failed" not in page
    assert "studio@pahlavan.co.uk" in page  # whom to write to
    assert EMAIL not in page and "allow cookies" not in page


def test_a_public_form_sent_without_the_cookie_asks_to_allow_cookies(baseline):
    response = Client(enforce_csrf_checks=True).post("/subprocessors/subscribe/", {"email": EMAIL})
    assert response.status_code == 403 and "allow cookies for this site" in response.content.decode()


def test_an_expired_admin_login_form_says_what_to_do_in_the_admin_look(officer):
    browser = Client(enforce_csrf_checks=True)
    browser.get(reverse("admin:login"))
    response = browser.post(
        reverse("admin:login"),
        {"username": officer.username, "password": "pw-for-tests-only", "csrfmiddlewaretoken": "stale" * 8},
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="site-name"' in page and "This form has expired" in page
    assert "reload the page" in page and "it asks you to sign in" in page
    assert "pw-for-tests-only" not in page and "CSRF verification failed" not in page


def test_a_signed_in_officers_expired_form_keeps_the_admin_navigation(officer, agent):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(officer)
    browser.get(reverse("admin:requests_app_rightsrequest_changelist"))
    response = browser.post(
        reverse("admin:requests_app_rightsrequest_changelist"),
        {"q": EMAIL, "_search": "1", "csrfmiddlewaretoken": "x" * 32},
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="site-name"' in page and "This form has expired" in page and "it asks you to sign in" not in page
    assert reverse("admin:requests_app_rightsrequest_changelist") in page  # the menu of what the officer may open
    assert EMAIL not in page
