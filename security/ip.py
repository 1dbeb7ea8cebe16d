"""The client's IP address, the same way for lockouts and for the access audit."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR``, or the address the last trusted proxy saw.

    With ``TRUSTED_PROXY_COUNT = n`` (n reverse proxies in front of the web
    process, each appending to ``X-Forwarded-For``), the client is the n-th
    entry from the right: entries further left were written by the client
    itself and cannot be trusted. Without proxies the header is ignored, so a
    client cannot choose the address it is locked out or audited under.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = _valid(forwarded[-proxies])
            if address:
                return address
    return _valid(request.META.get("REMOTE_ADDR", ""))
