"""Deploy checks for the security settings, the production defaults, and the demo's second factor."""

from __future__ import annotations

from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

import config.settings.base as base_settings
from security.checks import security_deploy_checks
from security.models import AccessEvent
from tests.test_project import PRODUCTION_ENV, manage


def test_protections_are_on_unless_the_environment_says_otherwise():
    assert base_settings.ADMIN_2FA_REQUIRED is True
    assert base_settings.SUPPORT_AGENT_2FA_REQUIRED is True
    assert base_settings.AXES_ENABLED is True
    assert base_settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert base_settings.AXES_FAILURE_LIMIT == 5


def test_deploy_check_flags_a_production_without_the_second_factor():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "ADMIN_2FA_REQUIRED": "false"}
    )
    assert result.returncode == 1
    assert "security.W001" in result.stderr


def test_deploy_check_flags_a_policy_that_allows_inline_script(settings):
    settings.CONTENT_SECURITY_POLICY = {"default-src": ["'self'"], "script-src": ["'self'", "'unsafe-inline'"]}
    assert [problem.id for problem in security_deploy_checks()] == ["security.W003"]


def test_production_cookies_are_host_only_and_secure():
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.ADMIN_2FA_REQUIRED)",
        env=PRODUCTION_ENV,
    )
    assert result.stdout.strip().splitlines()[-1].split() == [
        "__Host-sessionid",
        "True",
        "True",
        "31536000",
        "True",
        "True",
    ], result.stderr


@pytest.fixture
def demo_users(baseline, django_user_model):
    for name in ["admin", "officer", "agent", "auditor"]:
        django_user_model.objects.create_user(username=name, password="x", is_staff=True, is_superuser=name == "admin")


def test_the_demo_enrols_its_logins_once_and_prints_their_secrets(demo_users, settings):
    from security.demo import load_demo_security

    first = StringIO()
    load_demo_security(stdout=first)
    keys = dict(TOTPDevice.objects.values_list("user__username", "key"))
    assert sorted(keys) == ["admin", "agent", "auditor", "officer"]
    second = StringIO()
    load_demo_security(stdout=second)
    assert dict(TOTPDevice.objects.values_list("user__username", "key")) == keys
    assert first.getvalue() == second.getvalue()
    assert "officer: TOTP secret " in first.getvalue()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.ENROLLED_TWO_FACTOR).count() == 4


def test_the_demo_code_command_prints_a_code_the_login_accepts_and_works_only_in_debug(demo_users, settings, now):
    from security.demo import load_demo_security

    load_demo_security(stdout=StringIO())
    device = TOTPDevice.objects.get(user__username="officer")
    settings.DEBUG = True
    with time_machine.travel(now, tick=False):
        out = StringIO()
        call_command("demo_totp_code", "officer", stdout=out)
        assert device.verify_token(out.getvalue().strip())
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG"):
        call_command("demo_totp_code", "officer", stdout=StringIO())
