"""Demo step: the demo logins get an authenticator, and the demo prints how to use it."""

from __future__ import annotations

from base64 import b32encode

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.management.commands.load_demo import DEMO_USERS
from security.models import AccessEvent
from security.selectors import totp_device_for
from security.services import AUTHENTICATOR_NAME, access_event_record, recovery_codes_replace


@transaction.atomic
def load_demo_security(*, stdout) -> None:
    """Enrol each demo login once (safe to run again: an enrolled login keeps its secret)."""
    User = get_user_model()
    stdout.write("Two-factor for the demo logins (add a secret to any TOTP app, or run")
    stdout.write("  `.venv/bin/python manage.py demo_totp_code USERNAME` for the current code):")
    for username, _group, _superuser in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        device = totp_device_for(user)
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=True)
            recovery_codes_replace(user=user)
            access_event_record(
                actor=user, action=AccessEvent.Action.ENROLLED_TWO_FACTOR, obj=user, detail="demo enrolment"
            )
        stdout.write(f"  {username}: TOTP secret {b32encode(device.bin_key).decode()}")
