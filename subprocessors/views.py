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
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt, csrf_protect
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
    subscriber_for_unsubscribe,
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
    for change in register["upcoming_changes"]:  # the same dicts as each vendor's upcoming_changes
        # Dates for people ("6 January 2027"), not the JSON document's ISO strings.
        change["announced_on"] = parse_date(change["announced_on"])
        change["effective_on"] = parse_date(change["effective_on"])
    context = {
        "register": register,
        "last_updated": parse_datetime(register["last_updated"]) if register["last_updated"] else None,
        "form": form,
        "notice": notice,
        "contact_email": settings.PRIVACY_CONTACT_EMAIL,
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


def _unsubscribe_done(request: HttpRequest, token: str) -> HttpResponse:
    try:
        notice_subscriber_unsubscribe(token=token)
    except InvalidLink as error:
        return render(request, "subprocessors/public/invalid_link.html", {"reason": str(error)}, status=400)
    return render(request, "subprocessors/public/unsubscribed.html")


# The page's own button: a POST like any other form, so its CSRF token is checked.
_unsubscribe_button = csrf_protect(_unsubscribe_done)


def _is_one_click(request: HttpRequest) -> bool:
    """The RFC 8058 one-click POST a mail client sends for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``."""
    return request.POST.get("List-Unsubscribe") == "One-Click"


@csrf_exempt  # only for the RFC 8058 one-click POST (mail clients send no token); the button's POST is checked
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and changes nothing (mail scanners open every link); a POST unsubscribes.

    The signed token is the credential. Mail clients unsubscribe with the one-click POST
    (RFC 8058), which carries no CSRF token; any other POST is the page's button and must.
    """
    if request.method == "POST":
        if _is_one_click(request):
            return _unsubscribe_done(request, token)
        return _unsubscribe_button(request, token)
    try:
        subscriber = subscriber_for_unsubscribe(token=token)
    except InvalidLink as error:
        return render(request, "subprocessors/public/invalid_link.html", {"reason": str(error)}, status=400)
    if subscriber.unsubscribed_at is not None:
        return render(request, "subprocessors/public/unsubscribed.html")
    return render(request, "subprocessors/public/unsubscribe.html", {"token": token})
