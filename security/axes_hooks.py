"""How django-axes names a client in its log lines: a keyed hash, never the username or the address."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """``client 3f9a... path /admin/login/``: enough to correlate attempts, nothing personal."""
    key = settings.COMPLIANCE_HMAC_KEY.encode()
    digest = hmac.new(key, f"{username}\x00{ip_address}".encode(), hashlib.sha256).hexdigest()[:16]
    if isinstance(path_info, (list, tuple)):
        path_info = path_info[0] if path_info else ""
    return f"client {digest} path {path_info}"
