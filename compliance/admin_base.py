"""Building blocks every app's admin uses."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from simple_history.admin import SimpleHistoryAdmin

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell value that spreadsheet programs will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(value) for value in row])
    return response


class AuditedAdmin(SimpleHistoryAdmin):
    """History view, no bulk delete (it would bypass ``Model.delete()`` and its audit)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def report_domain_error(self, request, error: Exception) -> None:
        """Show a service's refusal to the user instead of a server error."""
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        self.message_user(request, text, level=messages.ERROR)
