"""Building blocks every app's admin uses."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from compliance.spreadsheet import csv_safe


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(value) for value in row])
    return response


class PeopleHistoryContextHelper(HistoricalRecordContextHelper):
    """A history entry's old and new values as people read them: a choice's label ("In progress", not
    ``in_progress``), dates in the one date format, "-" for nothing (simple-history shows raw values)."""

    def prepare_delta_change_value(self, change, value):
        from compliance.templatetags.for_people import history_value

        value = super().prepare_delta_change_value(change, value)
        if isinstance(value, list):
            return value
        field = self.model._meta.get_field(change.field)
        if field.choices and value not in (None, ""):
            value = dict(field.flatchoices).get(value, value)
        return history_value(value)


class AuditedAdmin(SimpleHistoryAdmin):
    """History view, no bulk delete (it would bypass ``Model.delete()`` and its audit)."""

    def get_historical_record_context_helper(self, request, historical_record):
        return PeopleHistoryContextHelper(self.model, historical_record)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def report_domain_error(self, request, error: Exception) -> None:
        """Show a service's refusal to the user instead of a server error."""
        text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        self.message_user(request, text, level=messages.ERROR)


class DateRangeFilter(admin.FieldListFilter):
    """From/to date inputs for a date or datetime field: ``?<field>_from=2025-09-01&<field>_to=2025-09-30``.

    Both ends are inclusive days in the controller's time zone. A value that is not a date is ignored and
    said so next to the inputs, so the list never turns into an error page.
    """

    template = "admin/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.parameter_from = f"{field_path}_from"
        self.parameter_to = f"{field_path}_to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.errors: list[str] = []
        self.bounds: dict[str, dt.date | None] = {}
        for name, label in ((self.parameter_from, "from"), (self.parameter_to, "to")):
            raw = self.used_parameters.get(name)
            raw = raw[-1] if isinstance(raw, list) else raw
            value = None
            if raw:
                try:
                    value = dt.date.fromisoformat(str(raw))
                except ValueError:
                    self.errors.append(f"'{raw}' is not a date (YYYY-MM-DD): the '{label}' end is ignored.")
            self.bounds[label] = value
            self.used_parameters[name] = raw

    def expected_parameters(self):
        return [self.parameter_from, self.parameter_to]

    def queryset(self, request, queryset):
        low, high = self.bounds.get("from"), self.bounds.get("to")
        if isinstance(self.field, models.DateTimeField):
            if low is not None:
                queryset = queryset.filter(**{f"{self.field_path}__gte": _start_of(low)})
            if high is not None:
                queryset = queryset.filter(**{f"{self.field_path}__lt": _start_of(high + dt.timedelta(days=1))})
            return queryset
        if low is not None:
            queryset = queryset.filter(**{f"{self.field_path}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{self.field_path}__lte": high})
        return queryset

    def choices(self, changelist):
        ours = {self.parameter_from, self.parameter_to}
        hidden = [
            (name, value)
            for name, values in changelist.filter_params.items()
            if name not in ours and name != "p"
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "selected": any(self.bounds.values()),
            "parameter_from": self.parameter_from,
            "parameter_to": self.parameter_to,
            "value_from": self.bounds["from"].isoformat() if self.bounds.get("from") else "",
            "value_to": self.bounds["to"].isoformat() if self.bounds.get("to") else "",
            "hidden": hidden,
            "errors": self.errors,
            "clear_query_string": changelist.get_query_string(remove=[*ours, "p"]),
        }


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
