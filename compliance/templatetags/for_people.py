"""Values as people read them in history and evidence tables: "-" for nothing, rounded figures, short hashes."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

register = template.Library()


@register.filter
def history_value(value) -> str:
    """A field's value in a history entry: "-" when empty (not simple-history's "Deleted user (pk=None)")."""
    if value is None or value == "" or value == "None":
        return "-"
    if getattr(value, "pk", "") is None and type(value).__name__ == "DeletedObject":
        return "-"
    # simple-history hands the template strings: a foreign key that was empty reads "Deleted user (pk=None)".
    if isinstance(value, str) and value.endswith("(pk=None)"):
        return "-"
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, "DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return date_format(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def milliseconds(value: float | None) -> str:
    """A duration in milliseconds for people: "12 ms", "1.4 s", "-" when unknown."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{round(value):,} ms"
    return f"{value / 1000:,.1f} s"


register.filter("milliseconds", milliseconds)


@register.filter
def short_hash(value: str | None):
    """The first 12 characters of a digest, the whole of it on hover and for copying."""
    if not value:
        return "-"
    return format_html('<code title="{}">{}…</code>', value, value[:12])
