"""Security tests run with the protections on, as production has them.

``config.settings.test`` turns the second factor and django-axes off so other
apps' tests can use ``force_login``; every test here turns both back on and
goes through the real login pages.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.services import recovery_codes_replace

PASSWORD = "pw-for-tests-only"


@pytest.fixture(autouse=True)
def protections_on(settings):
    settings.ADMIN_2FA_REQUIRED = True
    settings.SUPPORT_AGENT_2FA_REQUIRED = True
    settings.AXES_ENABLED = True
    return settings


@pytest.fixture
def now() -> datetime:
    """The start of the current 30-second TOTP step: tests freeze time here and step from it.

    Real time, not a fixed date: the session and lockout clocks must agree with
    the database's, and a session made "in March" would have expired by now.
    """
    return datetime.fromtimestamp(time.time() // 30 * 30, tz=UTC)


def code_for(device: TOTPDevice) -> str:
    """The code an authenticator app holding this device's secret shows right now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def password_login(client, user, password: str = PASSWORD, next_url: str = "/admin/", **extra):
    return client.post(
        reverse("admin:login"),
        {"username": user.get_username(), "password": password, "next": next_url},
        **extra,
    )


def enrolled(user) -> TOTPDevice:
    """A user who set up an authenticator earlier (and got recovery codes)."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    recovery_codes_replace(user=user)
    return device


def full_login(client, user, device: TOTPDevice, next_url: str = "/admin/"):
    """Password then code, as a person logs in; returns the response of the code step."""
    response = password_login(client, user, next_url=next_url)
    assert response.status_code == 302, response.content[:500]
    return client.post(reverse("security:two_factor_verify"), {"token": code_for(device), "next": next_url})
