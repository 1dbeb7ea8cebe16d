"""What the project's log handler writes for refusals (config.log_filters.ConciseRefusals).

These read the real ``console`` handler configured by ``LOGGING`` (its filters and format), its stream
swapped for the test's buffer; ``test_web_server.py`` reads the same lines from a real server process.
"""

from __future__ import annotations

import io
import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.test_least_privilege import _logged_in

pytestmark = pytest.mark.django_db

EMAIL = "zephyrine.quillfeather@example.org"


@pytest.fixture
def console():
    """The text the project's console handler writes during the test."""
    handler = next(h for h in logging.root.handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_a_permission_denied_is_one_line_naming_the_path(console, agent):
    client = _logged_in(agent)  # password and second factor, as tests/security signs in
    assert client.get(reverse("admin:retention_legalhold_changelist")).status_code == 403
    text = console.getvalue()
    assert "WARNING django.request Forbidden (Permission denied): /admin/retention/legalhold/" in text, text
    assert "Traceback" not in text


def test_a_csrf_refusal_over_https_logs_the_other_sites_origin_not_its_address(console, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client(enforce_csrf_checks=True)
    referer = f"https://evil.example/inbox/{EMAIL}?q={EMAIL}"
    response = client.post("/subprocessors/subscribe/", {"email": EMAIL}, secure=True, HTTP_REFERER=referer)
    assert response.status_code == 403
    text = console.getvalue()
    assert "Referer checking failed - https://evil.example/... does not match any trusted origins." in text, text
    assert EMAIL not in text and "inbox" not in text and "Traceback" not in text


def test_a_server_error_keeps_its_traceback(console):
    """Only expected refusals lose the traceback: a 5xx is a bug to read in full."""
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", "/admin/", exc_info=True, extra={"status_code": 500}
        )
    text = console.getvalue()
    assert "ERROR django.request Internal Server Error: /admin/" in text and "Traceback" in text
    assert "RuntimeError: a bug" in text
