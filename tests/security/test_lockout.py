"""Login throttling and lockout (django-axes): by username at one address, with a cool-off."""

from __future__ import annotations

import logging
from datetime import timedelta

import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from security.ip import client_ip
from tests.security.conftest import password_login


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client, user, times: int, **extra) -> list[int]:
    return [password_login(client, user, password="wrong-password", **extra).status_code for _ in range(times)]


def test_five_wrong_passwords_lock_the_login_even_against_the_right_password(now, client, settings, officer):
    settings.ADMIN_2FA_REQUIRED = False
    with time_machine.travel(now, tick=False):
        # Four times the login form with its error; the fifth failure locks.
        assert _fail(client, officer, 5) == [200, 200, 200, 200, 429]
        response = password_login(client, officer)
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert officer.username.encode() not in response.content  # a lockout page does not confirm usernames
    assert not _signed_in(client)


def test_a_lockout_lifts_after_the_cool_off(now, client, settings, officer):
    settings.ADMIN_2FA_REQUIRED = False
    with time_machine.travel(now, tick=False):
        _fail(client, officer, 5)
    with time_machine.travel(now + timedelta(minutes=14), tick=False):
        assert password_login(client, officer).status_code == 429
    with time_machine.travel(now + timedelta(minutes=14, seconds=1) + settings.AXES_COOLOFF_TIME, tick=False):
        response = password_login(client, officer)
    assert response.status_code == 302
    assert _signed_in(client)


def test_the_lockout_is_per_username_and_address(client, settings, officer, auditor):
    settings.ADMIN_2FA_REQUIRED = False
    _fail(client, officer, 5, REMOTE_ADDR="203.0.113.7")
    assert password_login(client, officer, REMOTE_ADDR="203.0.113.7").status_code == 429
    # The same person from the office network, and a colleague at the attacker's address, still get in.
    assert password_login(Client(), officer, REMOTE_ADDR="198.51.100.20").status_code == 302
    assert password_login(Client(), auditor, REMOTE_ADDR="203.0.113.7").status_code == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout(client, settings, officer):
    settings.ADMIN_2FA_REQUIRED = False
    for n in range(5):
        password_login(client, officer, password="wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert password_login(client, officer, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_a_successful_login_resets_the_failure_count(client, settings, officer):
    settings.ADMIN_2FA_REQUIRED = False
    assert _fail(client, officer, 4) == [200] * 4
    assert password_login(client, officer).status_code == 302
    client.post(reverse("admin:logout"))
    assert _fail(client, officer, 4) == [200] * 4
    assert password_login(client, officer).status_code == 302


def test_lockout_logs_name_neither_the_username_nor_the_address(client, settings, officer, caplog):
    settings.ADMIN_2FA_REQUIRED = False
    with caplog.at_level(logging.DEBUG):
        _fail(client, officer, 6, REMOTE_ADDR="203.0.113.9")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "AXES" in text  # axes did log the failures and the lockout
    assert officer.username not in text
    assert "203.0.113.9" not in text
    assert AccessAttempt.objects.get().failures_since_start == 6


def test_the_client_address_comes_from_trusted_proxies_only(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.5"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.50"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer entries than proxies: the header is not trusted
    assert client_ip(request) == "10.0.0.5"
    garbage = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-ip")
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(garbage) == "10.0.0.5"
