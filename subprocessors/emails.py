"""Emails of the register, rendered from templates under ``templates/subprocessors/email/``."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string


def render_email(name: str, context: dict, *, to: list[str], headers: dict[str, str] | None = None) -> EmailMessage:
    """``<name>_subject.txt`` (one line) and ``<name>.txt`` (the body) as a message to ``to``."""
    context = {"site_name": settings.SITE_NAME, "privacy_contact_email": settings.PRIVACY_CONTACT_EMAIL, **context}
    subject = " ".join(render_to_string(f"subprocessors/email/{name}_subject.txt", context).split())
    body = render_to_string(f"subprocessors/email/{name}.txt", context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers or {},
    )


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
