"""Writes of the security app: the access audit, two-factor enrolment, expired sessions.

Every function here that changes a user's second factor records an
``AccessEvent`` in the same transaction, so the trail cannot miss a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.base import SessionBase
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.ip import client_ip
from security.models import AccessEvent

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"


class TwoFactorError(Exception):
    """A refused two-factor step; the message is safe to show to the user."""


def access_event_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    request: HttpRequest | None = None,
    detail: str = "",
) -> AccessEvent:
    """Record that ``actor`` did ``action`` (an ``AccessEvent.Action``) on ``obj``.

    Call it inside the transaction of the change it records (an approval) or
    right after the read it records (a view of personal fields, a download).
    ``obj`` is stored as content type + primary key, never as text; ``detail``
    is for ids and counts and refuses anything that looks like an email address.
    """
    if action not in AccessEvent.Action.values:
        raise ValueError(f"unknown access action {action!r}")
    if _EMAIL.search(detail):
        raise ValueError("access event detail must not contain personal data")
    content_type = None
    object_id = ""
    if obj is not None:
        if obj.pk is None:
            raise ValueError("access events name saved objects only")
        content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        object_id = str(obj.pk)
    return AccessEvent.objects.create(
        actor=actor,
        action=action,
        content_type=content_type,
        object_id=object_id,
        ip_address=client_ip(request) if request is not None else None,
        detail=detail[:200],
    )


def recovery_codes_replace(*, user: User) -> list[str]:
    """A new set of recovery codes for ``user``, replacing any earlier set (callers record the event)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """A fresh, unconfirmed authenticator for ``user``; earlier unconfirmed ones are dropped.

    Its secret is shown once, on the enrolment page that called this; reloading
    the page makes a new one, so a secret left on a screen stops being useful.
    """
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


def totp_enrolment_confirm(*, request: HttpRequest, device_id: int, token: str) -> Enrolment:
    """Confirm the authenticator being enrolled with a code it shows, and sign the session in with it.

    Replaces any earlier authenticator and recovery codes of the user, and
    returns the new recovery codes (to be shown once, never stored in clear
    anywhere else than the device table).
    """
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
        # A wrong code is counted by the device's throttle, which must be committed: decide inside, raise after.
        accepted = device is not None and device.verify_token(_normalise(token))
        if accepted:
            replaced = TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()[0]
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = recovery_codes_replace(user=user)
            access_event_record(
                actor=user,
                action=AccessEvent.Action.ENROLLED_TWO_FACTOR,
                obj=user,
                request=request,
                detail="replaced an earlier authenticator" if replaced else "first authenticator",
            )
    if device is None:
        raise TwoFactorError("This enrolment has expired. Start again with the new code below.")
    if not accepted:
        raise TwoFactorError("That code is not right. Check the time on your phone and try the next code.")
    django_otp.login(request, device)
    return Enrolment(device=device, recovery_codes=codes)


def recovery_codes_regenerate(*, request: HttpRequest) -> list[str]:
    """New recovery codes for the signed-in (verified) user; the old ones stop working."""
    user = request.user
    if not user.is_verified():
        raise TwoFactorError("Confirm your second factor before making new recovery codes.")
    with transaction.atomic():
        codes = recovery_codes_replace(user=user)
        access_event_record(actor=user, action=AccessEvent.Action.REGENERATED_RECOVERY_CODES, obj=user, request=request)
    # The session may have been verified with the device just replaced.
    django_otp.login(request, StaticDevice.objects.get(user=user))
    return codes


def _normalise(token: str) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()


def two_factor_verify(*, request: HttpRequest, token: str) -> Device:
    """Check a code from the authenticator or a recovery code; on success the session is verified.

    Each device throttles its own failures (django-otp doubles the wait after
    every wrong code), so guessing is slow whichever kind of code is tried.
    """
    user = request.user
    token = _normalise(token)
    if token.isdigit():
        candidates = list(TOTPDevice.objects.filter(user=user, confirmed=True))
        action = AccessEvent.Action.VERIFIED_TWO_FACTOR
    else:
        candidates = list(StaticDevice.objects.filter(user=user, confirmed=True))
        action = AccessEvent.Action.USED_RECOVERY_CODE
    for candidate in candidates:
        allowed, info = candidate.verify_is_allowed()
        if not allowed:
            wait = (info or {}).get("locked_until")
            when = f" until {timezone.localtime(wait):%H:%M:%S}" if wait else " a little"
            raise TwoFactorError(f"Too many wrong codes. Wait{when} and try again.")
        device = django_otp.verify_token(user, candidate.persistent_id, token)
        if device is not None:
            detail = ""
            if action == AccessEvent.Action.USED_RECOVERY_CODE:
                detail = f"{device.token_set.count()} recovery codes left"
            access_event_record(actor=user, action=action, obj=user, request=request, detail=detail)
            django_otp.login(request, device)
            return device
    raise TwoFactorError("That code is not right.")


@transaction.atomic
def two_factor_reset(*, actor: User | None, user: User, request: HttpRequest | None = None) -> int:
    """Remove every second factor of ``user`` (a lost phone); they enrol again at their next login.

    Their open sessions lose their verification with the devices.
    """
    devices = 0
    for model in (TOTPDevice, StaticDevice):
        devices += model.objects.filter(user=user).count()
        model.objects.filter(user=user).delete()
    access_event_record(actor=actor, action=AccessEvent.Action.RESET_TWO_FACTOR, obj=user, request=request)
    return devices


def expired_sessions_clear() -> None:
    """Delete the sessions past their expiry (``manage.py clearsessions``, as a beat job).

    A session that ends by the idle timeout stays in the session store until deleted, and with it what it
    kept: the admin searches of ``security.admin_search`` (an email address, a name). Sign-out deletes the
    session at once; this removes the others within the hour. Idempotent.
    """
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    store.clear_expired()
