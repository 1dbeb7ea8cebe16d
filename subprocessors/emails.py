"""Links in the register's emails (rendered with ``compliance.emails.email_message`` from
``templates/subprocessors/email/``)."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
