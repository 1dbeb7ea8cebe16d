"""Reads: who must use two-factor, a user's devices, an object's access trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.roles import SUPPORT_AGENT
from security.models import AccessEvent


def two_factor_required(user: User) -> bool:
    """Whether this admin login must pass a second factor.

    Every staff login does, superusers included, when ``ADMIN_2FA_REQUIRED`` is
    on. ``SUPPORT_AGENT_2FA_REQUIRED = False`` exempts plain support agents
    only: a user with any other group or a directly granted permission is
    asked, so the exemption cannot widen by accident.
    """
    if not settings.ADMIN_2FA_REQUIRED or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.is_staff:
        return False
    if settings.SUPPORT_AGENT_2FA_REQUIRED:
        return True
    groups = set(user.groups.values_list("name", flat=True))
    return groups != {SUPPORT_AGENT} or user.user_permissions.exists()


def totp_device_for(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def has_confirmed_device(user: User) -> bool:
    """A device the user can verify with: an authenticator, or recovery codes not all used."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists() or recovery_codes_left(user) > 0


def static_device_for(user: User) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def access_events_for_object(obj: models.Model) -> models.QuerySet[AccessEvent]:
    """The access trail of one record, newest first (e.g. for a rights request's change page)."""
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return AccessEvent.objects.filter(content_type=content_type, object_id=str(obj.pk)).select_related("actor")
