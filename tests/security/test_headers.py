"""Security headers on every response, and an admin that works under the content security policy."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.security.conftest import enrolled, full_login

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_response_carries_a_strict_content_security_policy(client):
    response = client.get(reverse("admin:login"))
    policy = _directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    # Errors and redirects carry it too.
    assert "Content-Security-Policy" in client.get("/no-such-page/")
    assert "Content-Security-Policy" in client.get(reverse("admin:index"))


def test_the_admin_pages_run_no_inline_script_the_policy_would_block(client, superuser, now):
    import time_machine

    device = enrolled(superuser)
    with time_machine.travel(now, tick=False):
        full_login(client, superuser, device)
    urls = [reverse("admin:index"), reverse("security:recovery_codes"), reverse("security:two_factor_setup")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_request(superuser)):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
    problems = []
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        if INLINE_SCRIPT.search(response.content):
            problems.append(f"{url}: inline <script>")
        if EVENT_HANDLER.search(response.content):
            problems.append(f"{url}: inline event handler")
    assert problems == []


def test_the_two_factor_and_lockout_pages_run_no_inline_script(client, officer, settings):
    from tests.security.conftest import password_login

    password_login(client, officer)
    page = client.get(reverse("security:two_factor_setup"))
    assert page.status_code == 200
    assert not INLINE_SCRIPT.search(page.content)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked = password_login(client.__class__(), officer, password="wrong")
    assert locked.status_code == 429
    assert not INLINE_SCRIPT.search(locked.content)


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("path", ["/admin/login/", "/api/schema/"])
def test_a_view_that_sets_its_own_policy_keeps_it(path, client, db):
    # The middleware never overwrites a policy a view chose; the default applies everywhere else.
    # (db: the API schema lists the regime rows.)
    response = client.get(path)
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_no_template_of_the_project_has_an_inline_script_or_handler():
    """Public pages, letters and admin overrides alike: the policy would silently block them."""
    from django.conf import settings

    problems = []
    tops = [top for top in settings.BASE_DIR.iterdir() if top.is_dir() and not top.name.startswith((".", "var"))]
    templates = [path for top in tops for path in top.glob("**/*.html") if "templates" in path.parts]
    assert len(templates) > 10  # the search did find the project's templates
    for template in sorted(templates):
        relative = template.relative_to(settings.BASE_DIR)
        content = template.read_bytes()
        if INLINE_SCRIPT.search(content) or EVENT_HANDLER.search(content):
            problems.append(str(relative))
    assert problems == []
