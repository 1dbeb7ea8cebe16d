"""Admin for rights requests: a thin interface over the services.

Support agents log requests with a short form, read them, send the
acknowledgement, identity and clarification letters and add notes. Compliance
officers (``requests_app.decide_request``) also complete lines, extend, send the
answer and close. Every step is a service call; refusals come back as form
errors or messages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, Prefetch, Q, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from compliance.admin_base import AuditedAdmin, DateRangeFilter, csv_response
from requests_app.deadlines import PAUSED, SLA_LABELS, due_in_words
from requests_app.forms import (
    AppealAssignForm,
    AppealDecideForm,
    AppealExtendForm,
    AppealLogForm,
    EventForm,
    IdentityForm,
    LetterForm,
    NoteForm,
    RegimeChangeForm,
    RequestLineCompleteForm,
    RightsRequestAddForm,
    RightsRequestChangeForm,
    RightsRequestFullAddForm,
    add_service_errors,
)
from requests_app.models import OPEN_STATUSES, ApiClient, Appeal, RequestLine, RightsRequest
from requests_app.selectors import (
    REQUEST_LOG_HEADER,
    SLA_ORDER,
    appeal_sla,
    appeals_in_sla_state,
    request_handlers,
    request_identifiers,
    request_log_rows,
    request_sla,
    request_timeline,
    requests_in_sla_state,
)
from requests_app.services import (
    api_client_create,
    api_client_revoke,
    appeal_assign,
    appeal_decide,
    appeal_decide_preview,
    appeal_extend,
    appeal_open,
    communication_preview,
    communication_send,
    request_event_add,
    request_line_complete,
    request_note_add,
    rights_request_account_identity_record,
    rights_request_assign,
    rights_request_close,
    rights_request_identity_record,
    rights_request_open,
    rights_request_refresh,
    rights_request_regime_add,
    rights_request_regime_drop,
    rights_request_update,
)
from requests_app.services.appeals import ANSWERED_STATUSES
from requests_app.services.requests import DECIDE_PERMISSION, request_governing_regimes
from security.models import AccessEvent
from security.services import access_event_record


def _record_export(request, queryset, scope: str) -> None:
    access_event_record(
        actor=request.user,
        action=AccessEvent.Action.EXPORTED_LOG,
        request=request,
        detail=f"{queryset.count()} {scope}",
    )


SLA_COLOURS = {
    "overdue": "#ba2121",
    "urgent": "#e06b00",
    "due_soon": "#b59a00",
    "on_track": "#2e7d32",
    "paused": "#607d8b",
    "closed": "#777",
}


def sla_badge(state: str):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 6px;border-radius:3px;white-space:nowrap">{}</span>',
        SLA_COLOURS[state],
        SLA_LABELS[state],
    )


def due_display(due_date, *, is_open: bool) -> str:
    """A due date as people read it: the date, and while the request is open how far away it is."""
    if due_date is None:
        return "-"
    text = date_format(due_date)
    return f"{text} ({due_in_words(due_date, timezone.localdate())})" if is_open else text


# Overdue first, then soonest due, then paused, then answered: the order of the SLA badges.
_FAR = dt.date(9000, 1, 1)
SLA_ORDERING = Case(
    When(Q(status__in=OPEN_STATUSES, paused_since__isnull=True), then=Coalesce(F("due_date"), Value(_FAR))),
    When(Q(status__in=OPEN_STATUSES), then=Value(dt.date(9001, 1, 1))),
    default=Value(dt.date(9002, 1, 1)),
)

SEARCH_HELP = (
    "Search by reference (DSR-2026-00046, or just 00046 or 46), email address, its part before or after the @ "
    "(ana.silva, example.com), any part of the name, or the platform account reference."
)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=None, label="Assign to", help_text="Support agents and compliance officers."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = request_handlers()
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.get_username()


class SlaFilter(admin.SimpleListFilter):
    title = "SLA state"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [(state, SLA_LABELS[state]) for state in SLA_ORDER] + [("closed", "Answered / closed")]

    def queryset(self, request, queryset):
        if self.value() in {*SLA_ORDER, "closed"}:
            return requests_in_sla_state(queryset, self.value())
        return queryset


class OpenFilter(admin.SimpleListFilter):
    title = "open or answered"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Answered or closed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() == "no":
            return queryset.exclude(status__in=OPEN_STATUSES)
        return queryset


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", "Assigned to me"), ("logged", "Logged by me"), ("unassigned", "Unassigned")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(assignee=request.user)
        if self.value() == "logged":
            return queryset.filter(created_by=request.user)
        if self.value() == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset


class RequestLineInline(admin.TabularInline):
    model = RequestLine
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "right",
        "status",
        "due",
        "granting_regimes",
        "outcome",
        "outcome_reason",
        "refusal_ground",
        "completed_at",
    ]
    readonly_fields = fields

    @admin.display(description="Granted by")
    def granting_regimes(self, obj):
        return ", ".join(regime.name for regime in obj.regimes.all()) or "-"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Due")
    def due(self, obj):
        return due_display(obj.due_date, is_open=obj.status != RequestLine.Status.COMPLETED)


@admin.register(RightsRequest)
class RightsRequestAdmin(AuditedAdmin):
    list_display = [
        "reference",
        "requester_name",
        "received",
        "regime_label",
        "rights_summary",
        "status",
        "due",
        "sla",
        "assignee",
        "duplicate_flag",
    ]
    list_select_related = ["regime", "assignee"]
    list_filter = [
        SlaFilter,
        OpenFilter,
        "status",
        ("applicable_regimes", admin.RelatedOnlyFieldListFilter),
        "channel",
        QueueFilter,
        ("received_at", DateRangeFilter),
        ("due_date", DateRangeFilter),
    ]
    search_fields = ["=reference", "requester_name"]  # widened in get_search_results
    search_help_text = SEARCH_HELP
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-received_at", "-id"]
    inlines = [RequestLineInline]
    actions = ["assign_to_me", "assign_to", "recompute_deadlines", "export_selected_log"]
    change_form_template = "requests_app/admin/rightsrequest_change_form.html"
    change_list_template = "requests_app/admin/rightsrequest_change_list.html"
    computed_fields = [
        "reference",
        "requester_country",
        "requester_region",
        "governing_regimes",
        "status",
        "sla_display",
        "clock_started_on",
        "due",
        "acknowledge_by_due",
        "target_date_due",
        "is_extended",
        "paused_days",
        "paused_since",
        "acknowledged_at",
        "responded_at",
        "closed_at",
        "outcome",
        "closed_on_time",
        "identity_method",
        "identity_outcome",
        "identity_verified_by",
        "identity_verified_at",
        "identity_note",
        "account_identity_ref",
        "account_identity_outcome",
        "account_identity_method",
        "account_identity_verified_by",
        "account_identity_verified_at",
        "account_identity_note",
        "duplicate_link",
        "created_by",
        "api_client",
        "created_at",
    ]

    # --- list -------------------------------------------------------------------------------------

    def get_queryset(self, request):
        lines = RequestLine.objects.select_related("right").only(
            "id", "request_id", "status", "right__slug", "right__name", "right__display_order"
        )
        return super().get_queryset(request).prefetch_related(Prefetch("lines", queryset=lines))

    def get_search_results(self, request, queryset, search_term):
        """Reference (in full or by its number), email (whole, before or after the @), name, account reference."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(reference__iexact=term) | Q(requester_name__icontains=term) | Q(account_ref=term)
        if term.isdigit():
            match |= Q(reference__endswith=f"-{int(term):05d}")
        local, at, domain = term.partition("@")
        if local and at and domain:
            match |= Q(requester_email__iexact=term)
        elif at:  # "ana.silva@" or "@example.com"
            match |= Q(requester_email__istartswith=f"{local}@") if local else Q(requester_email__iendswith=term)
        else:
            match |= Q(requester_email__istartswith=f"{term}@") | Q(requester_email__iendswith=f"@{term}")
        return queryset.filter(match), False

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj):
        return date_format(timezone.localdate(obj.received_at))

    @admin.display(description="Regime", ordering="regime__name")
    def regime_label(self, obj):
        return obj.regime.name

    @admin.display(description="Rights")
    def rights_summary(self, obj):
        return ", ".join(line.right.name for line in obj.lines.all())

    @admin.display(description="Due", ordering="due_date")
    def due(self, obj):
        return due_display(obj.due_date, is_open=obj.is_open)

    @admin.display(description="Acknowledge by")
    def acknowledge_by_due(self, obj):
        return due_display(obj.acknowledge_by, is_open=obj.is_open and obj.acknowledged_at is None)

    @admin.display(description="Target date")
    def target_date_due(self, obj):
        return due_display(obj.target_date, is_open=obj.is_open)

    @admin.display(description="SLA", ordering=SLA_ORDERING)
    def sla(self, obj):
        return sla_badge(request_sla(obj))

    @admin.display(description="Governing regimes")
    def governing_regimes(self, obj):
        return ", ".join(regime.name for regime in request_governing_regimes(obj))

    @admin.display(description="SLA state")
    def sla_display(self, obj):
        return sla_badge(request_sla(obj))

    @admin.display(description="Dup?", boolean=True)
    def duplicate_flag(self, obj):
        return obj.possible_duplicate_of_id is not None

    @admin.display(description="Possible duplicate of")
    def duplicate_link(self, obj):
        if obj.possible_duplicate_of_id is None:
            return "-"
        url = reverse("admin:requests_app_rightsrequest_change", args=[obj.possible_duplicate_of_id])
        return format_html('<a href="{}">{}</a>', url, obj.possible_duplicate_of)

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        count = 0
        for obj in queryset:
            rights_request_assign(request=obj, assignee=request.user, actor=request.user)
            count += 1
        self.message_user(request, f"{count} request(s) assigned to you.")

    @admin.action(description="Assign to…", permissions=["change"])
    def assign_to(self, request, queryset):
        """Ask whom to give the selected requests to, then assign them through the service."""
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            assignee = form.cleaned_data["assignee"]
            count = 0
            for obj in queryset:
                try:
                    rights_request_assign(request=obj, assignee=assignee, actor=request.user)
                except (ValidationError, PermissionDenied) as error:
                    self.report_domain_error(request, error)
                else:
                    count += 1
            name = assignee.get_full_name() or assignee.get_username()
            self.message_user(request, f"{count} request(s) assigned to {name}.", messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        return TemplateResponse(
            request,
            "requests_app/admin/assign_requests.html",
            {
                **self.admin_site.each_context(request),
                "title": "Assign rights requests",
                "opts": self.model._meta,
                "requests": queryset.select_related("regime", "assignee"),
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Recompute deadlines (after correcting a regime rule)", permissions=["change"])
    def recompute_deadlines(self, request, queryset):
        count = 0
        for obj in queryset.filter(status__in=OPEN_STATUSES):
            rights_request_refresh(request=obj, actor=request.user)
            count += 1
        self.message_user(request, f"Deadlines of {count} open request(s) recomputed from their ledgers.")

    @admin.action(description="Export the request log (CSV) of the selected requests", permissions=["view"])
    def export_selected_log(self, request, queryset):
        _record_export(request, queryset, "rights requests (selected)")
        return csv_response("rights-request-log.csv", REQUEST_LOG_HEADER, request_log_rows(queryset))

    # --- forms ------------------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        # Records of requests are kept (CCPA §7101: 24 months); retention sweeps remove them.
        return False

    def can_decide(self, request) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = RightsRequestFullAddForm if self.has_change_permission(request) else RightsRequestAddForm
            kwargs["fields"] = list(kwargs["form"]._meta.fields)
        else:
            kwargs["form"] = RightsRequestChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self.get_form(request)._meta.fields})]
        return [
            ("Requester", {"fields": ["requester_name", "requester_email", "account_ref", "subject_type"]}),
            ("Request", {"fields": ["reference", "regime", "channel", "received_at", "description", "assignee"]}),
            (
                "Governing law (REGULATIONS §1a)",
                {"fields": [("requester_country", "requester_region"), "governing_regimes"]},
            ),
            (
                "Status and deadlines (computed from the ledger)",
                {
                    "fields": [
                        "status",
                        "sla_display",
                        ("clock_started_on", "due", "target_date_due", "acknowledge_by_due"),
                        ("is_extended", "paused_days", "paused_since"),
                        ("acknowledged_at", "responded_at", "closed_at"),
                        ("outcome", "closed_on_time"),
                    ]
                },
            ),
            (
                "Identity verification (no documents are stored)",
                {
                    "fields": [
                        ("identity_outcome", "identity_method"),
                        ("identity_verified_by", "identity_verified_at"),
                        "identity_note",
                    ]
                },
            ),
            (
                "Account reference verification (when the account's email is not the requester's)",
                {
                    "fields": [
                        ("account_identity_ref", "account_identity_outcome", "account_identity_method"),
                        ("account_identity_verified_by", "account_identity_verified_at"),
                        "account_identity_note",
                    ]
                },
            ),
            ("Intake", {"fields": ["duplicate_link", "created_by", "api_client", "created_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.computed_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = rights_request_open(
                requester_name=data["requester_name"],
                requester_email=data["requester_email"],
                account_ref=data.get("account_ref", ""),
                regime=data.get("regime"),
                requester_country=data.get("requester_country", ""),
                requester_region=data.get("requester_region", ""),
                rights=list(data["rights"]),
                channel=data["channel"],
                received_at=data["received_at"],
                description=data.get("description", ""),
                subject_type=data.get("subject_type"),
                assignee=data.get("assignee"),
                actor=request.user,
            )
            obj.pk = created.pk
            obj.reference = created.reference
            if created.possible_duplicate_of_id:
                self.message_user(
                    request,
                    f"{created.reference} may duplicate open request {created.possible_duplicate_of}: "
                    "same requester, same right.",
                    level=messages.WARNING,
                )
            return
        changes = {name: data[name] for name in form.changed_data if name in data}
        if changes:
            rights_request_update(request=obj, actor=request.user, **changes)

    def save_related(self, request, form, formsets, change):
        # Lines are created by the intake service and changed only through their own page.
        pass

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = extra_context or {}
        if obj is not None and request.method == "GET" and self.has_view_permission(request, obj):
            # The page shows the requester's name, email and account reference.
            access_event_record(
                actor=request.user, action=AccessEvent.Action.VIEWED_PERSONAL_FIELDS, obj=obj, request=request
            )
        if obj is not None:
            can_decide = self.can_decide(request)
            extra.update(
                {
                    "timeline": request_timeline(obj),
                    "sla_state": request_sla(obj),
                    "is_open": obj.is_open,
                    "can_event": request.user.has_perm("requests_app.add_requestevent") and obj.is_open,
                    "can_letter": request.user.has_perm("requests_app.add_communication"),
                    "can_note": request.user.has_perm("requests_app.add_requestnote"),
                    "can_decide": can_decide,
                    "can_close": can_decide and obj.status != "closed",
                    "is_paused": request_sla(obj) == PAUSED,
                    "failed_letters": list(obj.communications.filter(failed_at__isnull=False)),
                    "appeals": obj.appeals.prefetch_related("lines__right"),
                    "can_appeal": request.user.has_perm("requests_app.add_appeal") and obj.status in ANSWERED_STATUSES,
                }
            )
            if "account_warning" not in extra:  # fulfilment's admin says what its locate steps used
                extra["account_warning"] = request_identifiers(obj).warning if obj.account_ref else ""
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # --- steps ------------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export-log/", view(self.export_log_view), name="requests_app_rightsrequest_export_log"),
            path("<int:pk>/letter/", view(self.letter_view), name="requests_app_rightsrequest_letter"),
            path("<int:pk>/event/", view(self.event_view), name="requests_app_rightsrequest_event"),
            path("<int:pk>/identity/", view(self.identity_view), name="requests_app_rightsrequest_identity"),
            path(
                "<int:pk>/account-identity/",
                view(self.account_identity_view),
                name="requests_app_rightsrequest_account_identity",
            ),
            path("<int:pk>/note/", view(self.note_view), name="requests_app_rightsrequest_note"),
            path("<int:pk>/close/", view(self.close_view), name="requests_app_rightsrequest_close"),
            path("<int:pk>/regimes/", view(self.regimes_view), name="requests_app_rightsrequest_regimes"),
            path("<int:pk>/appeal/", view(self.appeal_view), name="requests_app_rightsrequest_appeal"),
            *super().get_urls(),
        ]

    def _object(self, request, pk: int, permission: str) -> RightsRequest:
        obj = get_object_or_404(RightsRequest.objects.select_related("regime"), pk=pk)
        if not self.has_view_permission(request, obj) or not request.user.has_perm(permission):
            raise PermissionDenied
        return obj

    def _change_url(self, obj) -> str:
        return reverse("admin:requests_app_rightsrequest_change", args=[obj.pk])

    def _render(self, request, obj, title: str, form, **context):
        return TemplateResponse(
            request,
            "requests_app/admin/step_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": obj,
                "title": title,
                "form": form,
                "media": self.media + form.media,
                "change_url": self._change_url(obj),
                **context,
            },
        )

    def _run(self, request, form, action) -> bool:
        """Call the service; a refusal goes onto the form (fields kept as typed)."""
        try:
            action()
        except ValidationError as error:
            add_service_errors(form, error)
            return False
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You are not allowed to do this.")
            return False
        return True

    def letter_context(self, request, obj: RightsRequest) -> dict[str, Any]:
        """What the letter templates get beyond what the request itself tells them (nothing here).

        A hook: an app that re-registers this admin fills in what it knows (fulfilment: what erasure kept
        and the download link). The same context goes to the preview and to the letter sent.
        """
        return {}

    def letter_view(self, request, pk: int):
        obj = self._object(request, pk, "requests_app.add_communication")
        can_decide = self.can_decide(request)
        data = request.POST if request.method == "POST" else request.GET or None
        form = LetterForm(data, can_decide=can_decide)
        # A refused send keeps the Send button: the text as typed is on the form, with the error.
        preview = True if request.method == "POST" and "_send" in request.POST else None
        context = self.letter_context(request, obj)
        if data is not None and form.is_valid():
            template = form.cleaned_data["template"]
            reason = form.cleaned_data["reason"]
            if request.method == "POST" and "_send" in request.POST:
                if self._run(
                    request,
                    form,
                    lambda: communication_send(
                        request=obj,
                        template=template,
                        actor=request.user,
                        reason=reason,
                        context=context,
                        subject_override=form.cleaned_data["subject"],
                        body_override=form.cleaned_data["body"],
                    ),
                ):
                    self.message_user(request, "Letter stored and queued for sending.")
                    return HttpResponseRedirect(self._change_url(obj))
            else:
                subject, body = communication_preview(request=obj, template=template, reason=reason, context=context)
                form = LetterForm(
                    {"template": template, "reason": reason, "subject": subject, "body": body}, can_decide=can_decide
                )
                form.is_valid()
                preview = True
        return self._render(request, obj, f"Send a letter: {obj.reference}", form, preview=preview, letter=True)

    def event_view(self, request, pk: int):
        obj = self._object(request, pk, "requests_app.add_requestevent")
        form = EventForm(request.POST or None, can_decide=self.can_decide(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if self._run(
                request,
                form,
                lambda: request_event_add(
                    request=obj,
                    type=data["type"],
                    at=data["at"],
                    reason=data["reason"],
                    extended_to=data.get("extended_to"),
                    actor=request.user,
                ),
            ):
                self.message_user(request, "Event recorded; deadlines recomputed.")
                return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Record an event: {obj.reference}", form)

    def identity_view(self, request, pk: int):
        obj = self._object(request, pk, DECIDE_PERMISSION)
        form = IdentityForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if self._run(
                request,
                form,
                lambda: rights_request_identity_record(
                    request=obj,
                    method=data["identity_method"],
                    outcome=data["identity_outcome"],
                    note=data["note"],
                    actor=request.user,
                ),
            ):
                self.message_user(request, "Identity verification recorded.")
                return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Identity verification: {obj.reference}", form)

    def account_identity_view(self, request, pk: int):
        obj = self._object(request, pk, DECIDE_PERMISSION)
        form = IdentityForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if self._run(
                request,
                form,
                lambda: rights_request_account_identity_record(
                    request_id=obj.pk,
                    method=data["identity_method"],
                    outcome=data["identity_outcome"],
                    note=data["note"],
                    actor=request.user,
                ),
            ):
                self.message_user(request, "Verification of the account reference recorded.")
                return HttpResponseRedirect(self._change_url(obj))
        return self._render(
            request,
            obj,
            f"Account reference verification: {obj.reference}",
            form,
            intro=(
                "How was the requester shown to hold the account the request names? Until this is recorded as "
                "verified, fulfilment uses only the requester's verified email."
            ),
        )

    def note_view(self, request, pk: int):
        obj = self._object(request, pk, "requests_app.add_requestnote")
        form = NoteForm(request.POST or None)
        if (
            request.method == "POST"
            and form.is_valid()
            and self._run(
                request, form, lambda: request_note_add(request=obj, body=form.cleaned_data["body"], actor=request.user)
            )
        ):
            self.message_user(request, "Note added.")
            return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Add a note: {obj.reference}", form)

    def regimes_view(self, request, pk: int):
        obj = self._object(request, pk, DECIDE_PERMISSION)
        form = RegimeChangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            service = rights_request_regime_add if data["action"] == "add" else rights_request_regime_drop
            if self._run(
                request,
                form,
                lambda: service(request=obj, regime=data["regime"], reason=data["reason"], actor=request.user),
            ):
                self.message_user(request, "Governing regimes changed; deadlines recomputed.")
                return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Governing regimes: {obj.reference}", form)

    def appeal_view(self, request, pk: int):
        """Log an appeal of the request's refusal (received by email, post or a support ticket)."""
        obj = self._object(request, pk, "requests_app.add_appeal")
        form = AppealLogForm(request.POST or None, request=obj)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            created = []
            if self._run(
                request,
                form,
                lambda: created.append(
                    appeal_open(
                        request=obj,
                        lines=list(data["lines"]),
                        channel=data["channel"],
                        received_at=data["received_at"],
                        statement=data["statement"],
                        actor=request.user,
                    )
                ),
            ):
                appeal = created[0]
                self.message_user(
                    request, f"Appeal logged; the answer is due {date_format(appeal.due_date)}. Receipt letter queued."
                )
                return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Log an appeal: {obj.reference}", form)

    def close_view(self, request, pk: int):
        obj = self._object(request, pk, DECIDE_PERMISSION)
        form = forms.Form(request.POST if request.method == "POST" else None)
        closing = request.method == "POST" and form.is_valid()
        if closing and self._run(request, form, lambda: rights_request_close(request=obj, actor=request.user)):
            self.message_user(request, f"{obj.reference} closed.")
            return HttpResponseRedirect(self._change_url(obj))
        return self._render(request, obj, f"Close {obj.reference}", form, confirm=True)

    def export_log_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request)
        stamp = timezone.localdate().isoformat()
        _record_export(request, queryset, "rights requests (filtered list)")
        return csv_response(f"rights-request-log-{stamp}.csv", REQUEST_LOG_HEADER, request_log_rows(queryset))


@admin.register(RequestLine)
class RequestLineAdmin(AuditedAdmin):
    list_display = ["request_link", "right", "status", "outcome", "due", "completed_at"]
    list_select_related = ["request", "right"]
    list_filter = ["status", "outcome", "right", "refusal_ground"]
    search_fields = ["=request__reference"]
    show_full_result_count = False
    ordering = ["-status", "due_date", "id"]  # open lines first, soonest due first
    form = RequestLineCompleteForm
    fieldsets = [
        (None, {"fields": ["request_link", "right", "status", "due_date"]}),
        ("Outcome", {"fields": ["outcome", "outcome_reason", "refusal_ground", "evidence_note"]}),
        (None, {"fields": ["completed_at", "completed_by"]}),
    ]
    base_readonly = ["request_link", "right", "status", "due_date", "completed_at", "completed_by"]

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        url = reverse("admin:requests_app_rightsrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, obj.request.reference)

    @admin.display(description="Due", ordering="due_date")
    def due(self, obj):
        return due_display(obj.due_date, is_open=obj.status != RequestLine.Status.COMPLETED)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if not request.user.has_perm(DECIDE_PERMISSION) or not super().has_change_permission(request, obj):
            return False
        return obj is None or (obj.status != RequestLine.Status.COMPLETED and obj.request.is_open)

    def get_readonly_fields(self, request, obj=None):
        return self.base_readonly

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        request_line_complete(
            line=obj,
            outcome=data["outcome"],
            reason=data.get("outcome_reason", ""),
            refusal_ground=data.get("refusal_ground", ""),
            evidence_note=data.get("evidence_note", ""),
            actor=request.user,
        )


class AppealSlaFilter(admin.SimpleListFilter):
    title = "SLA state"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [(state, SLA_LABELS[state]) for state in SLA_ORDER if state != PAUSED] + [("closed", "Decided")]

    def queryset(self, request, queryset):
        if self.value() in {*SLA_ORDER, "closed"}:
            return appeals_in_sla_state(queryset, self.value())
        return queryset


@admin.register(Appeal)
class AppealAdmin(AuditedAdmin):
    """Appeals of refusals (REGULATIONS §1b). Agents log them from the request's page and read them;
    officers assign (the change form), extend and decide them (buttons on the page)."""

    list_display = ["request_link", "received", "status", "due", "sla", "assignee", "outcome"]
    list_select_related = ["request", "assignee"]
    list_filter = [AppealSlaFilter, OpenFilter, "status", "outcome", "channel", ("due_date", DateRangeFilter)]
    search_fields = ["=request__reference"]
    show_full_result_count = False
    ordering = ["due_date", "id"]
    form = AppealAssignForm
    change_form_template = "requests_app/admin/appeal_change_form.html"
    computed_fields = [
        "request_link",
        "appealed_lines",
        "appeal_regimes",
        "channel",
        "received_at",
        "statement",
        "status",
        "sla_display",
        "due",
        "target_date",
        "is_extended",
        "outcome",
        "outcome_reason",
        "reopened_lines",
        "decided_at",
        "decided_by",
        "decided_on_time",
        "created_by",
        "api_client",
        "created_at",
    ]
    fieldsets = [
        ("Appeal", {"fields": ["request_link", "appealed_lines", "appeal_regimes", "channel", "received_at"]}),
        (None, {"fields": ["statement", "assignee"]}),
        (
            "Status and deadline (computed from the ledger)",
            {"fields": ["status", "sla_display", ("due", "target_date", "is_extended")]},
        ),
        ("Decision", {"fields": ["outcome", "outcome_reason", "reopened_lines", ("decided_at", "decided_by")]}),
        ("Intake", {"fields": ["decided_on_time", "created_by", "api_client", "created_at"]}),
    ]
    readonly_fields = computed_fields

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        url = reverse("admin:requests_app_rightsrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, obj.request.reference)

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj):
        return date_format(timezone.localdate(obj.received_at))

    @admin.display(description="Answer due", ordering="due_date")
    def due(self, obj):
        return due_display(obj.due_date, is_open=obj.is_open)

    @admin.display(description="SLA")
    def sla(self, obj):
        return sla_badge(appeal_sla(obj))

    @admin.display(description="SLA state")
    def sla_display(self, obj):
        return sla_badge(appeal_sla(obj))

    @admin.display(description="Lines appealed")
    def appealed_lines(self, obj):
        return ", ".join(line.right.name for line in obj.lines.select_related("right")) or "-"

    @admin.display(description="Appeal rules of")
    def appeal_regimes(self, obj):
        return ", ".join(f"{r.name} ({r.appeal_period} days)" for r in obj.regimes.all()) or "-"

    @admin.display(description="Lines reopened")
    def reopened_lines(self, obj):
        return ", ".join(line.right.name for line in obj.reversed_lines.select_related("right")) or "-"

    def has_add_permission(self, request):
        return False  # logged from the request's page, which knows the refusal appealed

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "assignee" in form.changed_data:
            appeal_assign(appeal=obj, assignee=form.cleaned_data["assignee"], actor=request.user)

    def save_related(self, request, form, formsets, change):
        pass

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_decide": request.user.has_perm(DECIDE_PERMISSION)}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/extend/", view(self.extend_view), name="requests_app_appeal_extend"),
            path("<int:pk>/decide/", view(self.decide_view), name="requests_app_appeal_decide"),
            *super().get_urls(),
        ]

    def _step(self, request, pk: int) -> Appeal:
        obj = get_object_or_404(Appeal.objects.select_related("request"), pk=pk)
        if not self.has_view_permission(request, obj) or not request.user.has_perm(DECIDE_PERMISSION):
            raise PermissionDenied
        return obj

    def _page(self, request, obj, title: str, form, *, letter: bool = False, preview: dict | None = None):
        change_url = reverse("admin:requests_app_appeal_change", args=[obj.pk])
        return TemplateResponse(
            request,
            "requests_app/admin/appeal_step_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": obj,
                "title": title,
                "form": form,
                "media": self.media + form.media,
                "change_url": change_url,
                "letter": letter,
                "preview": preview,
            },
        )

    def _done_quietly(self, form, action) -> bool:
        """Run ``action``; a refusal goes onto the form (as ``_done``), without a message or a redirect."""
        try:
            action()
        except ValidationError as error:
            add_service_errors(form, error)
            return False
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You are not allowed to do this.")
            return False
        return True

    def _done(self, request, form, action, message: str, obj):
        if not self._done_quietly(form, action):
            return None
        self.message_user(request, message)
        return HttpResponseRedirect(reverse("admin:requests_app_appeal_change", args=[obj.pk]))

    def extend_view(self, request, pk: int):
        obj = self._step(request, pk)
        form = AppealExtendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            done = self._done(
                request,
                form,
                lambda: appeal_extend(appeal=obj, reason=data["reason"], at=data["at"], actor=request.user),
                "Appeal extended; the notice is queued for the requester.",
                obj,
            )
            if done is not None:
                return done
        return self._page(request, obj, f"Extend the appeal on {obj.request.reference}", form)

    def decide_view(self, request, pk: int):
        """Decide in two steps: the first shows the answer the requester will get, exactly as it will be sent;
        *Send* decides. A decision changed after its preview is previewed again, never sent unseen."""
        obj = self._step(request, pk)
        form = AppealDecideForm(request.POST or None, appeal=obj)
        title = f"Decide the appeal on {obj.request.reference}"
        if request.method != "POST" or not form.is_valid():
            return self._page(request, obj, title, form, letter=True)
        data = form.cleaned_data
        decision = {
            "outcome": data["outcome"],
            "reason": data["outcome_reason"],
            "reversed_lines": list(data["reversed_lines"]),
            "actor": request.user,
        }
        seen = _decision_fingerprint(decision)
        if "_send" in request.POST and request.POST.get("previewed") == seen:
            done = self._done(
                request,
                form,
                lambda: appeal_decide(appeal=obj, **decision),
                "Appeal decided; the answer is queued for the requester.",
                obj,
            )
            if done is not None:
                return done
            return self._page(request, obj, title, form, letter=True)
        previewed: list[tuple[str, str]] = []
        if not self._done_quietly(form, lambda: previewed.append(appeal_decide_preview(appeal=obj, **decision))):
            return self._page(request, obj, title, form, letter=True)
        if "_send" in request.POST:
            form.add_error(None, "The decision changed after its preview: read the answer again, then send it.")
        subject, body = previewed[0]
        return self._page(
            request, obj, title, form, letter=True, preview={"subject": subject, "body": body, "fingerprint": seen}
        )


def _decision_fingerprint(decision: dict[str, Any]) -> str:
    """What the officer previewed (outcome, reasons, reopened lines), so that *Send* sends only that."""
    seen = [decision["outcome"], decision["reason"].strip(), sorted(line.pk for line in decision["reversed_lines"])]
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()


@admin.register(ApiClient)
class ApiClientAdmin(AuditedAdmin):
    list_display = ["name", "token_prefix", "is_active", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    actions = ["revoke"]
    change_list_template = "requests_app/admin/apiclient_change_list.html"
    readonly_fields = ["token_prefix", "is_active", "created_by", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["name", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        client, token = api_client_create(name=form.cleaned_data["name"], actor=request.user)
        obj.pk = client.pk
        request._new_api_token = token

    def response_add(self, request, obj, post_url_continue=None):
        token = getattr(request, "_new_api_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return TemplateResponse(
            request,
            "requests_app/admin/api_client_token.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": obj,
                "title": f"Token for {obj.name}",
                "token": token,
                "changelist_url": reverse("admin:requests_app_apiclient_changelist"),
            },
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for client in queryset.filter(is_active=True):
            api_client_revoke(client=client, actor=request.user)
        self.message_user(request, "Tokens revoked.")
