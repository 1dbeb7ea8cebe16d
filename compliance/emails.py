"""The one way to render an email: a subject and a body from two templates, with one set of shared keys.

``<template>_subject.txt`` gives the subject (its white space folded into one line) and ``<template>.txt``
the body. Every template may use the keys of :func:`email_context`; the caller's context adds its own
(and wins on a clash). Templates are plain text: they open with ``{% autoescape off %}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string


def email_context() -> dict[str, Any]:
    """The keys every email template may use, from the settings."""
    return {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "controller": settings.CONTROLLER_NAME,
        "privacy_team": settings.PRIVACY_TEAM_SIGNATURE,
        "contact_email": settings.PRIVACY_CONTACT_EMAIL,
    }


def email_render(template: str, context: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The subject (one line) and body of ``<template>_subject.txt`` and ``<template>.txt``."""
    ctx = {**email_context(), **(context or {})}
    subject = " ".join(render_to_string(f"{template}_subject.txt", ctx).split())
    body = render_to_string(f"{template}.txt", ctx)
    return subject, body


def email_message(
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    to: Sequence[str],
    reply_to: Sequence[str] | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The rendered email as a message from ``DEFAULT_FROM_EMAIL`` to ``to``, ready to ``send()``."""
    subject, body = email_render(template, context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to) if reply_to else None,
        headers=headers or {},
    )
