"""Admin sessions end after a period of inactivity, and the second factor ends with them."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.conf import settings as django_settings
from django.urls import reverse

from tests.security.conftest import code_for, enrolled, full_login, password_login


def test_idle_timeout_is_thirty_minutes_and_renewed_by_every_request():
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True


def test_a_session_survives_activity_and_expires_after_thirty_idle_minutes(now, client, officer):
    device = enrolled(officer)
    index = reverse("admin:index")
    with time_machine.travel(now, tick=False):
        full_login(client, officer, device)
        assert client.get(index).status_code == 200
    # Active every 29 minutes for an hour and a half: still signed in.
    for step in range(1, 4):
        with time_machine.travel(now + timedelta(minutes=29 * step), tick=False):
            assert client.get(index).status_code == 200
    last = now + timedelta(minutes=29 * 3)
    with time_machine.travel(last + timedelta(minutes=30, seconds=1), tick=False):
        response = client.get(index)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_after_expiry_the_password_alone_is_not_enough_again(now, client, officer):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        full_login(client, officer, device)
    with time_machine.travel(now + timedelta(minutes=31), tick=False):
        password_login(client, officer)
        response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:two_factor_verify"))


def test_the_session_key_changes_when_the_second_factor_is_passed(now, client, officer):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        password_login(client, officer)
        before = client.session.session_key
        response = client.post(reverse("security:two_factor_verify"), {"token": code_for(device)})
    assert response.status_code == 302
    assert client.session.session_key != before
