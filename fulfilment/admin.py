"""Admin of the fulfilment workers: a thin interface over the services.

Compliance officers start fulfilment from a request's page, see the locate
counts, the plans and their steps, approve erasure and rectification plans,
retry or waive failed steps, create download links and record vendors'
confirmations. Auditors see everything; support agents see none of it. The
rights request admin is extended here (fulfilment sits above ``requests_app``)
by subclassing its ``ModelAdmin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from compliance.admin_base import AuditedAdmin
from fulfilment.forms import LinkForm, RequestedChangeForm, WaiveForm
from fulfilment.models import (
    DownloadAttempt,
    DownloadLink,
    ErasureLedgerEntry,
    ExportBundle,
    FulfilmentPlan,
    FulfilmentStep,
    PlanKind,
    RecipientNotice,
)
from fulfilment.selectors import letter_context, manual_task_id, plan_approval_summary, request_fulfilment
from fulfilment.services import (
    bundle_purge,
    bundle_staff_download,
    download_link_create,
    download_link_revoke,
    fulfilment_check,
    fulfilment_start,
    notice_confirm,
    notice_send,
    plan_approve,
    plan_update_change,
    step_retry,
    step_waive,
)
from fulfilment.services.common import (
    APPROVE_PERMISSION,
    START_PERMISSION,
    bundle_storage,
    located_account_used,
)
from fulfilment.services.plans import step_lease_lapsed
from requests_app.admin import RightsRequestAdmin as BaseRightsRequestAdmin
from requests_app.models import RightsRequest


def _request_link(request_obj) -> str:
    url = reverse("admin:requests_app_rightsrequest_change", args=[request_obj.pk])
    return format_html('<a href="{}">{}</a>', url, request_obj.reference)


class ReadOnlyAdmin(AuditedAdmin):
    """Records the workers write: staff act on them through actions and buttons, never by editing fields."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*self.get_fields(request, obj)]

    def _run(self, request, action, success: str) -> bool:
        try:
            action()
        except (ValidationError, PermissionDenied) as error:
            self.report_domain_error(request, error)
            return False
        self.message_user(request, success)
        return True

    def _form_page(self, request, obj, title: str, form, *, intro: str = ""):
        return TemplateResponse(
            request,
            "fulfilment/admin/form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": obj,
                "title": title,
                "form": form,
                "intro": intro,
                "change_url": reverse(f"admin:fulfilment_{self.model._meta.model_name}_change", args=[obj.pk]),
            },
        )


# ------------------------------------------------------------------------------
# Plans
# ------------------------------------------------------------------------------


@admin.register(FulfilmentPlan)
class FulfilmentPlanAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "request_link", "kind", "status", "rows_affected", "approved_by", "created_at"]
    list_select_related = ["request", "approved_by"]
    list_filter = ["status", "kind"]
    search_fields = ["=request__reference"]
    fields = [
        "request_link",
        "line",
        "kind",
        "status",
        "plan_table",
        "rows_affected",
        "requested_change",
        "approval_waiver",
        "approved_by",
        "approved_at",
        "created_at",
        "completed_at",
        "step_summary",
    ]
    actions = ["approve_selected"]
    change_form_template = "fulfilment/admin/plan_change_form.html"

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        return _request_link(obj.request)

    @admin.display(description="Plan")
    def plan_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e["system"], e["table"] or "(whole system)", e["rows"], e["action"], e["reason"] or "")
                for e in obj.tables
            ),
        )
        return format_html(
            "<table><thead><tr><th>System</th><th>Table</th><th>Rows located</th><th>Action</th>"
            "<th>Why kept</th></tr></thead><tbody>{}</tbody></table>",
            rows or format_html("<tr><td colspan=5>Nothing of the subject was found.</td></tr>"),
        )

    @admin.display(description="Steps")
    def step_summary(self, obj):
        counts = obj.steps.values("status").annotate(n=Count("pk")).order_by("status")
        return ", ".join(f"{c['n']} {c['status']}" for c in counts) or "none yet"

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_PERMISSION)

    @admin.action(description="Approve the selected plans", permissions=["approve"])
    def approve_selected(self, request, queryset):
        approved = 0
        for plan in queryset:
            if plan.kind == PlanKind.ERASURE and plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL:
                # Erasure deletes data: approved one at a time, after its confirmation page's summary.
                self.message_user(
                    request,
                    f"{plan}: approve an erasure plan from its confirmation page, which shows what it deletes.",
                    messages.WARNING,
                )
                continue
            try:
                plan_approve(plan=plan, actor=request.user, http_request=request)
                approved += 1
            except (ValidationError, PermissionDenied) as error:
                self.report_domain_error(request, error)
        if approved:
            self.message_user(request, f"{approved} plan(s) approved; the workers start now.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", view(self.approve_view), name="fulfilment_fulfilmentplan_approve"),
            path("<int:pk>/change-request/", view(self.change_request_view), name="fulfilment_fulfilmentplan_edit"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = extra_context or {}
        if obj is not None:
            awaiting = obj.status == FulfilmentPlan.Status.AWAITING_APPROVAL
            extra["can_approve"] = awaiting and self.has_approve_permission(request)
            extra["can_edit_change"] = extra["can_approve"] and obj.kind == PlanKind.RECTIFICATION
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def approve_view(self, request, pk: int):
        """GET: what approving the plan will do, per system (rows deleted, masked, kept and why); POST: approve."""
        plan = get_object_or_404(FulfilmentPlan.objects.select_related("request", "line__right"), pk=pk)
        if not self.has_approve_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            self._run(
                request,
                lambda: plan_approve(plan=plan, actor=request.user, http_request=request),
                "Plan approved; the workers start now.",
            )
            return HttpResponseRedirect(reverse("admin:fulfilment_fulfilmentplan_change", args=[pk]))
        return TemplateResponse(
            request,
            "fulfilment/admin/plan_approve_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": plan,
                "title": f"Approve {plan}?",
                "summary": plan_approval_summary(plan),
                "awaiting": plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL,
                "change_url": reverse("admin:fulfilment_fulfilmentplan_change", args=[pk]),
            },
        )

    def change_request_view(self, request, pk: int):
        plan = get_object_or_404(FulfilmentPlan, pk=pk)
        if not self.has_approve_permission(request):
            raise PermissionDenied
        form = RequestedChangeForm(request.POST or None, initial={"requested_change": plan.requested_change})
        if request.method == "POST" and form.is_valid():
            change = form.cleaned_data["requested_change"]
            if self._run(
                request,
                lambda: plan_update_change(plan=plan, requested_change=change, actor=request.user),
                "Requested change updated.",
            ):
                return HttpResponseRedirect(reverse("admin:fulfilment_fulfilmentplan_change", args=[pk]))
        return self._form_page(request, plan, f"Requested change: {plan}", form)


# ------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------


@admin.register(FulfilmentStep)
class FulfilmentStepAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "request_link",
        "kind",
        "system",
        "table",
        "status",
        "rows_located",
        "rows_exported",
        "rows_deleted",
        "rows_masked",
        "rows_kept",
        "attempts",
        "error",
    ]
    list_select_related = ["request", "system", "table__system"]
    list_filter = ["status", "kind", "system"]
    search_fields = ["=request__reference"]
    fields = [
        "request_link",
        "kind",
        "system",
        "table",
        "action",
        "reason",
        "status",
        "rows_located",
        "rows_exported",
        "rows_deleted",
        "rows_masked",
        "rows_kept",
        "evidence_summary",
        "waiting_on",
        "error",
        "attempts",
        "started_at",
        "finished_at",
        "waived_reason",
        "waived_by",
    ]
    actions = ["retry_selected"]
    change_form_template = "fulfilment/admin/step_change_form.html"

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        return _request_link(obj.request)

    @admin.display(description="Waiting on")
    def waiting_on(self, obj):
        task_id = manual_task_id(obj)
        if task_id is None:
            return obj.external_reference or "-"
        url = reverse("admin:compliance_manualtask_change", args=[task_id])
        return format_html('<a href="{}">Manual task {}</a> (mark it done there; the step moves on)', url, task_id)

    @admin.display(description="Evidence")
    def evidence_summary(self, obj):
        parts = obj.evidence.get("parts") or {}
        if parts:
            return format_html_join(
                mark_safe("<br>"),  # noqa: S308 - a constant tag
                "{}: {} bytes, SHA-256 {}",
                ((fmt, part["size"], part["sha256"]) for fmt, part in sorted(parts.items())),
            )
        return ", ".join(f"{key}: {value}" for key, value in sorted(obj.evidence.items())) or "-"

    @admin.action(
        description="Retry the selected failed or waiting steps (or running ones whose worker is gone)",
        permissions=["change"],
    )
    def retry_selected(self, request, queryset):
        retried = 0
        for step in queryset:
            try:
                step_retry(step=step, actor=request.user)
                retried += 1
            except (ValidationError, PermissionDenied) as error:
                self.report_domain_error(request, error)
        if retried:
            self.message_user(request, f"{retried} step(s) queued again.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/retry/", view(self.retry_view), name="fulfilment_fulfilmentstep_retry"),
            path("<int:pk>/waive/", view(self.waive_view), name="fulfilment_fulfilmentstep_waive"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = extra_context or {}
        if obj is not None:
            open_ = obj.status in {FulfilmentStep.Status.FAILED, FulfilmentStep.Status.WAITING}
            open_ = open_ or step_lease_lapsed(obj)  # a running step whose worker is gone
            extra["can_retry"] = open_ and self.has_change_permission(request, obj)
            extra["can_waive"] = obj.status in {
                FulfilmentStep.Status.FAILED,
                FulfilmentStep.Status.WAITING,
                FulfilmentStep.Status.PENDING,
            } and request.user.has_perm(APPROVE_PERMISSION)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def retry_view(self, request, pk: int):
        step = get_object_or_404(FulfilmentStep, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, step):
            raise PermissionDenied
        self._run(request, lambda: step_retry(step=step, actor=request.user), "Step queued again.")
        return HttpResponseRedirect(reverse("admin:fulfilment_fulfilmentstep_change", args=[pk]))

    def waive_view(self, request, pk: int):
        step = get_object_or_404(FulfilmentStep.objects.select_related("system", "table", "request"), pk=pk)
        if not request.user.has_perm(APPROVE_PERMISSION):
            raise PermissionDenied
        form = WaiveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            if self._run(request, lambda: step_waive(step=step, reason=reason, actor=request.user), "Step waived."):
                return HttpResponseRedirect(reverse("admin:fulfilment_fulfilmentstep_change", args=[pk]))
        return self._form_page(
            request,
            step,
            f"Waive: {step}",
            form,
            intro="A waived step counts as finished: the line is completed as partially fulfilled, with this reason.",
        )


# ------------------------------------------------------------------------------
# Bundles and links
# ------------------------------------------------------------------------------


class DownloadLinkInline(admin.TabularInline):
    model = DownloadLink
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "public_id",
        "method",
        "expires_at",
        "downloads_used",
        "max_downloads",
        "failed_attempts",
        "locked_at",
        "revoked_at",
        "created_by",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DownloadAttemptInline(admin.TabularInline):
    model = DownloadAttempt
    extra = 0
    can_delete = False
    fields = ["at", "outcome", "link", "client", "user"]
    readonly_fields = fields
    verbose_name_plural = "downloads and refused attempts"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExportBundle)
class ExportBundleAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "request_link", "status", "progress", "rows_total", "size", "built_at", "expires_at"]
    list_select_related = ["request"]
    list_filter = ["status"]
    search_fields = ["=request__reference"]
    fields = [
        "request_link",
        "status",
        "progress",
        "rows_total",
        "size",
        "sha256",
        "manifest_table",
        "created_at",
        "built_at",
        "expires_at",
        "purged_at",
    ]
    inlines = [DownloadLinkInline, DownloadAttemptInline]
    change_form_template = "fulfilment/admin/bundle_change_form.html"

    def get_queryset(self, request):
        finished = Q(steps__status__in=FulfilmentStep.FINISHED)
        return (
            super()
            .get_queryset(request)
            .annotate(steps_total=Count("steps"), steps_done=Count("steps", filter=finished))
        )

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        return _request_link(obj.request)

    @admin.display(description="Tables exported")
    def progress(self, obj):
        done = getattr(obj, "steps_done", None)
        total = getattr(obj, "steps_total", None)
        if done is None:
            total = obj.steps.count()
            done = obj.steps.filter(status__in=FulfilmentStep.FINISHED).count()
        return f"{done} of {total}"

    @admin.display(description="Size")
    def size(self, obj):
        return filesizeformat(obj.size_bytes) if obj.size_bytes else "-"

    @admin.display(description="Files (manifest)")
    def manifest_table(self, obj):
        files = (obj.manifest or {}).get("files") or []
        if not files:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            ((f["name"], f.get("rows", ""), f["bytes"], f["sha256"]) for f in files),
        )
        return format_html(
            "<table><thead><tr><th>File</th><th>Rows</th><th>Bytes</th><th>SHA-256</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/download/", view(self.download_view), name="fulfilment_exportbundle_download"),
            path("<int:pk>/new-link/", view(self.new_link_view), name="fulfilment_exportbundle_new_link"),
            path("<int:pk>/purge/", view(self.purge_view), name="fulfilment_exportbundle_purge"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = extra_context or {}
        if obj is not None:
            ready = obj.status == ExportBundle.Status.READY
            extra["can_download"] = ready and request.user.has_perm("fulfilment.download_exportbundle")
            extra["can_link"] = ready and request.user.has_perm("fulfilment.add_downloadlink")
            extra["can_purge"] = ready and self.has_change_permission(request, obj)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def download_view(self, request, pk: int):
        bundle = get_object_or_404(ExportBundle.objects.select_related("request"), pk=pk)
        try:
            bundle_staff_download(bundle=bundle, actor=request.user, http_request=request)
        except ValidationError as error:
            self.report_domain_error(request, error)
            return HttpResponseRedirect(reverse("admin:fulfilment_exportbundle_change", args=[pk]))
        return FileResponse(
            bundle_storage().open(bundle.file_name, "rb"),
            as_attachment=True,
            filename=f"{bundle.request.reference}-data.zip",
            content_type="application/zip",
        )

    def new_link_view(self, request, pk: int):
        bundle = get_object_or_404(ExportBundle.objects.select_related("request"), pk=pk)
        if not request.user.has_perm("fulfilment.add_downloadlink"):
            raise PermissionDenied
        form = LinkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                download_link_create(
                    bundle=bundle,
                    actor=request.user,
                    method=data["method"],
                    max_downloads=data["max_downloads"],
                    days=data["days"],
                )
            except (ValidationError, PermissionDenied) as error:
                self.report_domain_error(request, error)
            else:
                self.message_user(request, "New download link created and emailed to the requester.")
                return HttpResponseRedirect(reverse("admin:fulfilment_exportbundle_change", args=[pk]))
        return self._form_page(
            request,
            bundle,
            f"New download link: {bundle}",
            form,
            intro="The link is emailed to the requester's address; it is never shown here.",
        )

    def purge_view(self, request, pk: int):
        bundle = get_object_or_404(ExportBundle, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, bundle):
            raise PermissionDenied
        self._run(request, lambda: bundle_purge(bundle=bundle, actor=request.user), "Bundle file deleted.")
        return HttpResponseRedirect(reverse("admin:fulfilment_exportbundle_change", args=[pk]))


@admin.register(DownloadLink)
class DownloadLinkAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "request_link",
        "method",
        "expires_at",
        "downloads_used",
        "max_downloads",
        "failed_attempts",
        "locked_at",
        "revoked_at",
    ]
    list_select_related = ["bundle__request"]
    list_filter = ["method"]
    search_fields = ["=bundle__request__reference"]
    fields = [
        "request_link",
        "bundle",
        "method",
        "expires_at",
        "downloads_used",
        "max_downloads",
        "failed_attempts",
        "locked_at",
        "revoked_at",
        "created_by",
        "created_at",
    ]
    actions = ["revoke_selected"]

    @admin.display(description="Request", ordering="bundle__request__reference")
    def request_link(self, obj):
        return _request_link(obj.bundle.request)

    @admin.action(description="Revoke the selected links", permissions=["change"])
    def revoke_selected(self, request, queryset):
        for link in queryset:
            download_link_revoke(link=link, actor=request.user)
        self.message_user(request, "Links revoked; they refuse every download from now on.")


# ------------------------------------------------------------------------------
# Notices and ledger
# ------------------------------------------------------------------------------


class ConfirmationFilter(admin.SimpleListFilter):
    """Art. 19 notices the recipient has not confirmed yet (the dashboard links here)."""

    title = "confirmed by the recipient"
    parameter_name = "confirmed"
    UNCONFIRMED = [RecipientNotice.Status.SENT, RecipientNotice.Status.FAILED, RecipientNotice.Status.PENDING]

    def lookups(self, request, model_admin):
        return [("no", "Not yet confirmed"), ("yes", "Confirmed or closed")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(status__in=self.UNCONFIRMED)
        if self.value() == "yes":
            return queryset.exclude(status__in=self.UNCONFIRMED)
        return queryset


@admin.register(RecipientNotice)
class RecipientNoticeAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "request_link",
        "subprocessor",
        "channel",
        "status",
        "sent_at",
        "reminders_sent",
        "confirmed_at",
    ]
    list_select_related = ["request", "subprocessor"]
    list_filter = [ConfirmationFilter, "status", "channel"]
    search_fields = ["=request__reference", "subprocessor__legal_name", "subprocessor__trading_name"]
    fields = [
        "request_link",
        "subprocessor",
        "channel",
        "status",
        "actions",
        "category_list",
        "recipient",
        "subject",
        "body",
        "attempts",
        "last_error",
        "sent_at",
        "reminders_sent",
        "last_reminder_at",
        "confirmed_at",
        "confirmed_via",
        "confirmed_by",
        "created_at",
    ]
    actions = ["record_confirmation", "send_again"]

    @admin.display(description="Request", ordering="request__reference")
    def request_link(self, obj):
        return _request_link(obj.request)

    @admin.display(description="Affected categories")
    def category_list(self, obj):
        return ", ".join(c.name for c in obj.categories.all())

    @admin.action(description="Record the vendor's confirmation (received by email)", permissions=["change"])
    def record_confirmation(self, request, queryset):
        done = 0
        for notice in queryset:
            try:
                notice_confirm(notice=notice, via="staff", actor=request.user)
                done += 1
            except (ValidationError, PermissionDenied) as error:
                self.report_domain_error(request, error)
        if done:
            self.message_user(request, f"{done} confirmation(s) recorded.")

    @admin.action(description="Send the selected notices (or a reminder) now", permissions=["change"])
    def send_again(self, request, queryset):
        sent = 0
        for notice in queryset.exclude(status=RecipientNotice.Status.CONFIRMED):
            sent += notice_send(notice_id=notice.pk, reminder=notice.sent_at is not None)
        self.message_user(request, f"{sent} notice(s) sent.", level=messages.SUCCESS if sent else messages.WARNING)


@admin.register(ErasureLedgerEntry)
class ErasureLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["request_reference", "system", "erased_at", "replays", "last_replayed_at"]
    list_select_related = ["system"]
    list_filter = ["system"]
    search_fields = ["=request_reference"]
    fields = [
        "request_reference",
        "system",
        "account_hmac",
        "email_hmac",
        "plan",
        "erased_at",
        "replays",
        "last_replayed_at",
    ]

    def has_change_permission(self, request, obj=None):
        return False


# ------------------------------------------------------------------------------
# The rights request page, extended with its fulfilment
# ------------------------------------------------------------------------------


class RightsRequestAdmin(BaseRightsRequestAdmin):
    change_form_template = "fulfilment/admin/rightsrequest_change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/fulfilment/start/",
                view(self.fulfilment_start_view),
                name="requests_app_rightsrequest_fulfilment_start",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None and request.user.has_perm("fulfilment.view_fulfilmentstep"):
            try:
                fulfilment_check(obj)
                can_start = request.user.has_perm(START_PERMISSION)
            except ValidationError:
                can_start = False
            extra["fulfilment"] = request_fulfilment(obj)
            extra["can_start_fulfilment"] = can_start
            # Rows found per system, zero-row tables folded (replaces a flat table-by-table inline).
            extra["can_view_located"] = request.user.has_perm("fulfilment.view_locatedtable")
            extra["can_view_manual_tasks"] = request.user.has_perm("compliance.view_manualtask")
            used = located_account_used(obj) if obj.account_ref else None
            if used is not None:  # started: the locate steps' decision, not today's check, is what applies
                extra["account_warning"] = (
                    ""
                    if used
                    else "The account reference was left out of this fulfilment: its locate steps used only the "
                    "requester's email (see “Identifiers used”)."
                )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def fulfilment_start_view(self, request, pk: int):
        obj = get_object_or_404(RightsRequest, pk=pk)
        if request.method != "POST" or not request.user.has_perm(START_PERMISSION):
            raise PermissionDenied
        try:
            steps = fulfilment_start(request=obj, actor=request.user)
        except (ValidationError, PermissionDenied) as error:
            self.report_domain_error(request, error)
        else:
            self.message_user(request, f"Locating the subject in {len(steps)} system(s); plans follow.")
        return HttpResponseRedirect(self._change_url(obj))

    def letter_context(self, request, obj: RightsRequest) -> dict[str, Any]:
        """What erasure kept and the download link, for the letters."""
        return letter_context(obj)


admin.site.unregister(RightsRequest)
admin.site.register(RightsRequest, RightsRequestAdmin)
