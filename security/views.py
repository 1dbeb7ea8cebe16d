"""The two-factor pages of the admin login: verify a code, enrol an authenticator, recovery codes.

A password-only session reaches these and the logout button, nothing else
(``AdminTwoFactorMiddleware``). Enrolment without a verified session is
allowed only to a user who has no device yet: otherwise a stolen password
could enrol the thief's phone.
"""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.middleware import two_factor_exempt
from security.selectors import has_confirmed_device, recovery_codes_left, totp_device_for
from security.services import (
    TwoFactorError,
    recovery_codes_regenerate,
    totp_enrolment_confirm,
    totp_enrolment_start,
    two_factor_verify,
)

_ENROLMENT_SESSION_KEY = "security_enrolment_device_id"


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=20,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _step_redirect(step: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(step)}?{urlencode({'next': next_url})}")


def _login_redirect(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': request.path})}")


def _context(request: HttpRequest, title: str, **extra) -> dict:
    """The admin's look without its navigation: the session is not through its second factor yet."""
    site = admin.site
    return {
        "site_header": site.site_header,
        "site_title": site.site_title,
        "title": title,
        "has_permission": False,
        "is_nav_sidebar_enabled": False,
        "next": _next_url(request),
        **extra,
    }


def _staff(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.is_active and request.user.is_staff


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@two_factor_exempt
@never_cache
@sensitive_post_parameters("token")
def two_factor_verify_view(request: HttpRequest) -> HttpResponse:
    if not _staff(request):
        return _login_redirect(request)
    if request.user.is_verified():
        return HttpResponseRedirect(_next_url(request))
    if not has_confirmed_device(request.user):
        return _step_redirect("security:two_factor_setup", _next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor_verify(request=request, token=form.cleaned_data["token"])
        except TwoFactorError as error:
            form.add_error("token", str(error))
        else:
            request.session.cycle_key()
            return HttpResponseRedirect(_next_url(request))
    return render(request, "security/two_factor_verify.html", _context(request, "Two-factor check", form=form))


def _qr_svg(device: TOTPDevice) -> str:
    # Inline SVG: no image request, no data: URI for the content security policy to allow.
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")


@two_factor_exempt
@never_cache
@sensitive_post_parameters("token")
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    if not _staff(request):
        return _login_redirect(request)
    user = request.user
    if has_confirmed_device(user) and not user.is_verified():
        return _step_redirect("security:two_factor_verify", _next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrolment = totp_enrolment_confirm(
                request=request,
                device_id=request.session.get(_ENROLMENT_SESSION_KEY, 0),
                token=form.cleaned_data["token"],
            )
        except TwoFactorError as error:
            form.add_error("token", str(error))
        else:
            request.session.pop(_ENROLMENT_SESSION_KEY, None)
            request.session.cycle_key()
            context = _context(request, "Your recovery codes", codes=enrolment.recovery_codes, enrolled=True)
            return _no_store(render(request, "security/recovery_codes.html", context))
    device = None
    if request.method == "POST":
        # A mistyped code keeps the enrolment the user has just scanned.
        device = TOTPDevice.objects.filter(
            pk=request.session.get(_ENROLMENT_SESSION_KEY, 0), user=user, confirmed=False
        ).first()
    if device is None:
        # Every fresh showing of this page is a new secret, shown this once.
        device = totp_enrolment_start(user=user)
        request.session[_ENROLMENT_SESSION_KEY] = device.pk
    secret = b32encode(device.bin_key).decode()
    context = _context(
        request,
        "Set up two-factor authentication",
        form=form,
        qr_svg=mark_safe(_qr_svg(device)),  # noqa: S308 - generated by segno from our own URL
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        replacing=totp_device_for(user) is not None,
    )
    return _no_store(render(request, "security/two_factor_setup.html", context))


@two_factor_exempt
@never_cache
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    if not _staff(request):
        return _login_redirect(request)
    if not request.user.is_verified():
        return _step_redirect("security:two_factor_verify", request.path)
    context = {**admin.site.each_context(request), "title": "Recovery codes"}
    if request.method == "POST":
        codes = recovery_codes_regenerate(request=request)
        return _no_store(render(request, "security/recovery_codes.html", {**context, "codes": codes}))
    context["codes_left"] = recovery_codes_left(request.user)
    context["code_count"] = settings.TWO_FACTOR_RECOVERY_CODES
    return render(request, "security/recovery_codes_manage.html", context)


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What a locked-out login sees (``AXES_LOCKOUT_CALLABLE``): no username echoed back, status 429."""
    context = {
        "site_header": admin.site.site_header,
        "site_title": admin.site.site_title,
        "title": "Login locked",
        "has_permission": False,
        "is_nav_sidebar_enabled": False,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "security/lockout.html", context, status=429)
