"""Public views: the list (HTML, JSON, CSV), subscribing, confirming and unsubscribing.

Everything here is reachable without a login, so it shows only what
``selectors.public_register`` returns and never says whether an address is subscribed.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance.admin_base import csv_response
from subprocessors.forms import SubscribeForm
from subprocessors.selectors import PUBLIC_CSV_HEADER, public_csv_rows, public_register
from subprocessors.services.subscribers import (
    InvalidLink,
    notice_subscriber_confirm,
    notice_subscriber_subscribe,
    notice_subscriber_unsubscribe,
    subscriber_for_confirmation,
)

PUBLIC_CACHE_SECONDS = 300


def _client_ip(request: HttpRequest) -> str:
    # The same client address the login throttle uses (it knows the trusted proxies), when configured.
    resolver = getattr(settings, "AXES_CLIENT_IP_CALLABLE", None)
    if resolver:
        address = import_string(resolver)(request)
        if address:
            return address
    return request.META.get("REMOTE_ADDR", "")


def subscribe_rate_limited(request: HttpRequest) -> bool:
    """True once a client has posted the subscribe form more than the limit within the window.

    A fixed window in the shared cache (``CACHES``), one key per client and window: the window is in
    the key, so it ends on time whatever the cache's own expiry does. The key holds a hash, not the
    address.
    """
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{_client_ip(request)}".encode()).hexdigest()[:32]
    window = settings.SUBPROCESSOR_SUBSCRIBE_WINDOW_SECONDS
    key = f"subprocessors:subscribe:{digest}:{int(time.time() // window)}"
    if cache.add(key, 1, timeout=window):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return False
    return count > settings.SUBPROCESSOR_SUBSCRIBE_LIMIT


def _list_page(request: HttpRequest, form: SubscribeForm, *, status: int = 200, notice: str = "") -> HttpResponse:
    register = public_register()
    context = {
        "register": register,
        "last_updated": parse_datetime(register["last_updated"]) if register["last_updated"] else None,
        "form": form,
        "notice": notice,
        "privacy_contact_email": settings.PRIVACY_CONTACT_EMAIL,
    }
    return render(request, "subprocessors/public/list.html", context, status=status)


@require_GET
def subprocessor_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, SubscribeForm())


@require_GET
def subprocessor_list_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(public_register(), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Cache-Control"] = f"public, max-age={PUBLIC_CACHE_SECONDS}"
    return response


@require_GET
def subprocessor_list_csv(request: HttpRequest) -> HttpResponse:
    response = csv_response("studio-subprocessors.csv", PUBLIC_CSV_HEADER, public_csv_rows(public_register()))
    response["Cache-Control"] = f"public, max-age={PUBLIC_CACHE_SECONDS}"
    return response


@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    if subscribe_rate_limited(request):
        return _list_page(
            request,
            SubscribeForm(),
            status=429,
            notice="Too many subscription requests from your network. Please try again later.",
        )
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        notice_subscriber_subscribe(email=form.cleaned_data["email"])
    except ValidationError as error:
        form.add_error("email", error.message_dict.get("email", error.messages))
        return _list_page(request, form, status=400)
    # The same answer whether or not the address was already subscribed.
    return render(request, "subprocessors/public/subscribe_done.html")


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: link scanners that open every URL in an email confirm nothing."""
    try:
        if request.method == "POST":
            notice_subscriber_confirm(token=token)
            return render(request, "subprocessors/public/confirmed.html")
        subscriber_for_confirmation(token=token)
    except InvalidLink as error:
        return render(request, "subprocessors/public/invalid_link.html", {"reason": str(error)}, status=400)
    return render(request, "subprocessors/public/confirm.html", {"token": token})


@csrf_exempt  # the signed token is the credential; mail clients POST here for one-click unsubscribe (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        notice_subscriber_unsubscribe(token=token)
    except InvalidLink as error:
        return render(request, "subprocessors/public/invalid_link.html", {"reason": str(error)}, status=400)
    return render(request, "subprocessors/public/unsubscribed.html")
