"""The second factor of admin logins: enrolment, verification, recovery codes, who must use it."""

from __future__ import annotations

import re
from base64 import b32encode
from datetime import timedelta

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.roles import COMPLIANCE_OFFICER, SUPPORT_AGENT
from security.models import AccessEvent
from security.selectors import two_factor_required
from tests.security.conftest import code_for, enrolled, full_login, password_login


def _secret_device(response) -> TOTPDevice:
    """The device whose secret the enrolment page shows (what the person types into their app)."""
    secret = re.search(rb'id="totp-secret">([A-Z2-7 ]+)<', response.content).group(1).decode().replace(" ", "")
    device = TOTPDevice.objects.get(confirmed=False)
    assert b32encode(device.bin_key).decode() == secret
    return device


def _admin_urls():
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    return urls


def test_a_password_alone_opens_no_admin_page_for_an_officer(client, officer):
    enrolled(officer)
    response = password_login(client, officer)
    assert response.status_code == 302  # the password was right: Django's login succeeded
    problems = []
    for url in _admin_urls():
        response = client.get(url)
        if response.status_code != 302 or not response["Location"].startswith(reverse("security:two_factor_verify")):
            problems.append(f"{url}: {response.status_code} {response.get('Location')}")
    assert problems == []


def test_a_force_login_session_is_not_a_verified_one(client, officer):
    client.force_login(officer)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:two_factor_setup"))


def test_first_login_enrols_an_authenticator_with_a_real_code_and_shows_recovery_codes_once(now, client, officer):
    with time_machine.travel(now, tick=False):
        response = password_login(client, officer)
        response = client.get(response["Location"], follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("security:two_factor_setup"))
        assert b"<svg" in response.content  # the QR code, inline
        device = _secret_device(response)

        response = client.post(reverse("security:two_factor_setup"), {"token": code_for(device), "next": "/admin/"})
        assert response.status_code == 200
        codes = re.findall(rb"<li><code>([a-z2-7]+)</code></li>", response.content)
        assert len(codes) == 10
        assert "no-store" in response["Cache-Control"]

        device.refresh_from_db()
        assert device.confirmed
        assert set(StaticToken.objects.filter(device__user=officer).values_list("token", flat=True)) == {
            code.decode() for code in codes
        }
        assert client.get(reverse("admin:index")).status_code == 200
        event = AccessEvent.objects.get(action=AccessEvent.Action.ENROLLED_TWO_FACTOR)
        assert (event.actor, event.ip_address, event.object_id) == (officer, "127.0.0.1", str(officer.pk))

        # The secret and the codes are not shown again: the setup page now makes a new secret,
        # and the recovery code page only offers to replace the codes.
        page = client.get(reverse("security:recovery_codes"))
        assert not any(code in page.content for code in codes)
        page = client.get(reverse("security:two_factor_setup"))
        assert _secret_device(page).key != device.key


def test_a_wrong_code_at_enrolment_keeps_the_secret_just_scanned(now, client, officer):
    with time_machine.travel(now, tick=False):
        password_login(client, officer)
        device = _secret_device(client.get(reverse("security:two_factor_setup")))
        wrong = f"{(int(code_for(device)) + 1) % 1000000:06d}"
        response = client.post(reverse("security:two_factor_setup"), {"token": wrong})
        assert b"That code is not right" in response.content
        assert _secret_device(response).pk == device.pk
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        response = client.post(reverse("security:two_factor_setup"), {"token": code_for(device)})
        assert b"recovery-codes" in response.content


def test_an_enrolled_officer_passes_password_then_code_and_lands_where_they_were_going(now, client, officer):
    device = enrolled(officer)
    target = reverse("admin:security_accessevent_changelist")
    with time_machine.travel(now, tick=False):
        response = full_login(client, officer, device, next_url=target)
    assert response.status_code == 302
    assert response["Location"] == target
    assert client.get(target).status_code == 200
    assert AccessEvent.objects.filter(actor=officer, action=AccessEvent.Action.VERIFIED_TWO_FACTOR).count() == 1


def test_a_code_is_refused_the_second_time(now, client, officer, django_user_model):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        full_login(client, officer, device)
        client.post(reverse("admin:logout"))
        response = full_login(client, officer, device)
        assert response.status_code == 200
        assert b"That code is not right" in response.content
        assert client.get(reverse("admin:index")).status_code == 302


def test_a_recovery_code_signs_in_once_and_is_then_spent(client, auditor):
    enrolled(auditor)
    code = StaticToken.objects.filter(device__user=auditor).first().token
    password_login(client, auditor)
    response = client.post(reverse("security:two_factor_verify"), {"token": code.upper(), "next": "/admin/"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    assert not StaticToken.objects.filter(token=code).exists()
    event = AccessEvent.objects.get(action=AccessEvent.Action.USED_RECOVERY_CODE)
    assert event.detail == "9 recovery codes left"

    client.post(reverse("admin:logout"))
    password_login(client, auditor)
    response = client.post(reverse("security:two_factor_verify"), {"token": code})
    assert b"That code is not right" in response.content


def test_wrong_codes_make_even_the_right_code_wait(now, client, officer):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        password_login(client, officer)
        for wrong in ["000000", "111111", "222222"]:
            client.post(reverse("security:two_factor_verify"), {"token": wrong})
        response = client.post(reverse("security:two_factor_verify"), {"token": code_for(device)})
        assert b"Too many wrong codes" in response.content
        assert client.get(reverse("admin:index")).status_code == 302
    # Three failures: the wait is 1 * 2**(3-1) = 4 seconds.
    with time_machine.travel(now + timedelta(seconds=5), tick=False):
        response = client.post(reverse("security:two_factor_verify"), {"token": code_for(device), "next": "/admin/"})
        assert response.status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200


def test_a_password_only_session_cannot_enrol_another_authenticator(client, officer):
    device = enrolled(officer)
    password_login(client, officer)
    response = client.get(reverse("security:two_factor_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:two_factor_verify"))
    assert client.post(reverse("security:two_factor_setup"), {"token": "123456"}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=officer)) == [device]


def test_a_verified_user_can_move_to_a_new_authenticator(now, client, officer):
    old = enrolled(officer)
    with time_machine.travel(now, tick=False):
        full_login(client, officer, old)
        new = _secret_device(client.get(reverse("security:two_factor_setup")))
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        response = client.post(reverse("security:two_factor_setup"), {"token": code_for(new)})
        assert b"recovery-codes" in response.content
    assert list(TOTPDevice.objects.filter(user=officer)) == [new]
    assert client.get(reverse("admin:index")).status_code == 200


def test_new_recovery_codes_cancel_the_old_ones(now, client, officer):
    device = enrolled(officer)
    old_codes = set(StaticToken.objects.values_list("token", flat=True))
    with time_machine.travel(now, tick=False):
        full_login(client, officer, device)
    page = client.get(reverse("security:recovery_codes"))
    assert b"10 of 10 recovery codes left" in page.content
    response = client.post(reverse("security:recovery_codes"))
    new_codes = {code.decode() for code in re.findall(rb"<li><code>([a-z2-7]+)</code></li>", response.content)}
    assert len(new_codes) == 10
    assert set(StaticToken.objects.values_list("token", flat=True)) == new_codes
    assert not (new_codes & old_codes)
    assert client.get(reverse("admin:index")).status_code == 200  # still signed in
    assert AccessEvent.objects.filter(action=AccessEvent.Action.REGENERATED_RECOVERY_CODES, actor=officer).exists()


def test_a_password_only_session_cannot_make_recovery_codes(client, officer):
    enrolled(officer)
    old_codes = set(StaticToken.objects.values_list("token", flat=True))
    password_login(client, officer)
    response = client.post(reverse("security:recovery_codes"))
    assert response.status_code == 302
    assert set(StaticToken.objects.values_list("token", flat=True)) == old_codes


def test_the_next_parameter_never_leaves_the_site(now, client, officer):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        response = full_login(client, officer, device, next_url="https://evil.example/phish")
    assert response["Location"] == reverse("admin:index")


@pytest.mark.parametrize("next_url", ["https://evil.example/phish", "//evil.example/x"])
def test_a_password_step_with_an_off_site_next_goes_to_the_admin_not_to_a_missing_page(client, officer, next_url):
    # Django's fallback after a refused ``next`` is LOGIN_REDIRECT_URL, /accounts/profile/ by default: a 404
    # in this project, where the person is stuck before the second factor.
    enrolled(officer)
    response = password_login(client, officer, next_url=next_url)
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(response["Location"])["Location"].startswith(reverse("security:two_factor_verify"))


@pytest.mark.parametrize("role", ["officer", "auditor", "agent", "superuser"])
def test_every_role_must_use_two_factor_by_default(role, request):
    assert two_factor_required(request.getfixturevalue(role))


def test_support_agents_can_be_exempted_but_only_plain_support_agents(client, settings, agent, officer):
    settings.SUPPORT_AGENT_2FA_REQUIRED = False
    assert not two_factor_required(agent)
    assert two_factor_required(officer)
    password_login(client, agent)
    assert client.get(reverse("admin:index")).status_code == 200

    agent.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    assert two_factor_required(agent)
    agent.groups.set([Group.objects.get(name=SUPPORT_AGENT)])
    agent.user_permissions.add(Permission.objects.get(codename="view_accessevent"))
    assert two_factor_required(agent)


def test_the_demo_switch_turns_the_second_factor_off(client, settings, officer):
    settings.ADMIN_2FA_REQUIRED = False
    password_login(client, officer)
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_superuser_resets_a_lost_phone_and_the_user_enrols_again(now, client, superuser, officer):
    enrolled(officer)
    root_device = enrolled(superuser)
    with time_machine.travel(now, tick=False):
        full_login(client, superuser, root_device)
    response = client.post(
        reverse("admin:otp_totp_totpdevice_changelist"),
        {
            "action": "reset_two_factor",
            "_selected_action": list(TOTPDevice.objects.filter(user=officer).values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert not StaticDevice.objects.filter(user=officer).exists()
    event = AccessEvent.objects.get(action=AccessEvent.Action.RESET_TWO_FACTOR)
    assert (event.actor, event.object_id) == (superuser, str(officer.pk))

    officer_client = Client()
    password_login(officer_client, officer)
    response = officer_client.get(reverse("admin:index"))
    assert response["Location"].startswith(reverse("security:two_factor_setup"))


def test_the_device_admin_shows_no_secret_and_offers_no_edit(now, client, superuser):
    device = enrolled(superuser)
    with time_machine.travel(now, tick=False):
        full_login(client, superuser, device)
    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    assert device.key.encode() not in page.content
    assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    codes = StaticToken.objects.filter(device__user=superuser).values_list("token", flat=True)
    static_page = client.get(reverse("admin:otp_static_staticdevice_changelist"))
    assert not any(code.encode() in static_page.content for code in codes)
    static = StaticDevice.objects.get(user=superuser)
    assert client.get(reverse("admin:otp_static_staticdevice_delete", args=[static.pk])).status_code == 403


def test_the_dashboard_tells_a_verified_user_how_many_recovery_codes_are_left(now, client, officer):
    device = enrolled(officer)
    with time_machine.travel(now, tick=False):
        full_login(client, officer, device)
    page = client.get(reverse("admin:index"))
    assert b"Signed in with two-factor (Authenticator app)" in page.content
    assert b"10 recovery codes left" in page.content
