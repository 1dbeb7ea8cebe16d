"""Retention in the admin: rules and their matrix, legal holds, runs with approval and progress.

Thin: every write calls a service; refusals come back as messages.
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from compliance.admin_base import AuditedAdmin
from compliance.templatetags.for_people import milliseconds, short_hash
from retention.models import (
    ACTIVE_RUN_STATUSES,
    LegalHold,
    RetentionRule,
    RetentionRuleRegimeBasis,
    RetentionRun,
    RetentionRunBatch,
    RetentionRunHoldSkip,
    RunStatus,
)
from retention.selectors import legal_hold_release_summary, retention_matrix, rule_next_run
from retention.services import (
    legal_hold_release,
    legal_hold_save,
    retention_rule_delete,
    retention_rule_save,
    retention_run_approve,
    retention_run_cancel,
    retention_run_resume,
    retention_run_start,
)


class RegimeBasisInline(admin.TabularInline):
    """Where the records of one regime rest on another basis than the rule's (records of requests)."""

    model = RetentionRuleRegimeBasis
    extra = 0
    fields = ["regime", "legal_basis", "legal_source"]


@admin.register(RetentionRule)
class RetentionRuleAdmin(AuditedAdmin):
    inlines = [RegimeBasisInline]
    list_display = [
        "name",
        "table",
        "data_category",
        "action",
        "period_text",
        "trigger_column",
        "is_enabled",
        "next_run",
        "approval_threshold",
    ]
    list_filter = ["is_enabled", "action", "data_category", "table__system", "legal_basis"]
    list_select_related = [
        "table__system",
        "data_category",
        "trigger_column__table__system",
        "legal_basis",
        "periodic_task__crontab",
    ]
    search_fields = ["name", "table__table_name", "justification", "legal_source"]
    autocomplete_fields: list[str] = []
    raw_id_fields: list[str] = []
    readonly_fields = ["schedule_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "data_category", "table", "is_enabled", "owner"]}),
        ("When", {"fields": ["trigger", "trigger_column", ("period", "period_unit"), "period_anchor"]}),
        ("What", {"fields": ["action"]}),
        ("Why", {"fields": ["justification", "legal_basis", "legal_source"]}),
        (
            "How",
            {"fields": ["cadence", "schedule_link", "batch_size", "approval_threshold", "created_at", "updated_at"]},
        ),
    ]
    actions = ["dry_run_now", "run_now"]
    change_list_template = "admin/retention/retentionrule/change_list.html"

    @admin.display(description="Period")
    def period_text(self, obj: RetentionRule) -> str:
        return obj.period_display

    @admin.display(description="Next run")
    def next_run(self, obj: RetentionRule):
        return rule_next_run(obj) or "not scheduled"

    @admin.display(description="Beat schedule")
    def schedule_link(self, obj: RetentionRule):
        if obj.periodic_task_id is None:
            return "Created when the rule is saved."
        url = reverse("admin:django_celery_beat_periodictask_change", args=[obj.periodic_task_id])
        return format_html('<a href="{}">{}</a>', url, obj.periodic_task.name)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "trigger_column":
            from compliance.models import MappedColumn

            kwargs["queryset"] = MappedColumn.objects.select_related("table__system")
        if db_field.name == "table":
            from compliance.models import MappedTable

            kwargs["queryset"] = MappedTable.objects.select_related("system")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        retention_rule_save(rule=obj, actor=request.user)

    def delete_model(self, request, obj):
        retention_rule_delete(rule=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.runs.exists():
            return False
        return super().has_delete_permission(request, obj)

    def has_start_permission(self, request) -> bool:
        return request.user.has_perm("retention.start_retentionrun")

    def _start(self, request, queryset, mode: str) -> None:
        for rule in queryset:
            try:
                run = retention_run_start(rule_id=rule.pk, mode=mode, actor=request.user, origin="admin")
            except (ValidationError, PermissionDenied) as exc:
                self.report_domain_error(request, exc)
                continue
            url = reverse("admin:retention_retentionrun_change", args=[run.pk])
            self.message_user(
                request,
                format_html(
                    '<a href="{}">Run #{}</a> of {}: {} ({} rows older than the cutoff, {} to affect).',
                    url,
                    run.pk,
                    rule.name,
                    run.get_status_display().lower(),
                    run.rows_matched,
                    run.rows_to_affect,
                ),
                level=messages.ERROR if run.status == RunStatus.FAILED else messages.SUCCESS,
            )

    @admin.action(description="Dry run now (count only)", permissions=["start"])
    def dry_run_now(self, request, queryset):
        self._start(request, queryset, RetentionRun.Mode.DRY_RUN)

    @admin.action(description="Run now (counts first; over the threshold it waits for approval)", permissions=["start"])
    def run_now(self, request, queryset):
        self._start(request, queryset, RetentionRun.Mode.EXECUTE)

    def get_urls(self):
        urls = [
            path("matrix/", self.admin_site.admin_view(self.matrix_view), name="retention_retentionrule_matrix"),
        ]
        return urls + super().get_urls()

    def matrix_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Retention matrix",
            "opts": self.model._meta,
            "matrix": retention_matrix(),
        }
        return TemplateResponse(request, "admin/retention/matrix.html", context)


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = [
            "name",
            "reason",
            "description",
            "subject_account_ref",
            "subject_email",
            "data_category",
            "system",
            "table",
            "starts_at",
            "ends_at",
        ]
        help_texts = {
            "subject_account_ref": "The platform account id. For a person with an account give both the id and "
            "the email: tables keyed by one cannot find rows by the other.",
        }


class HoldStatusFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("lapsed", "Lapsed (ended, never released)"), ("released", "Released")]

    def queryset(self, request, queryset):
        from retention.selectors import active_holds

        if self.value() == "active":
            return queryset.filter(pk__in=active_holds().values("pk"))
        if self.value() == "lapsed":
            return queryset.filter(released_at__isnull=True, ends_at__lte=timezone.now())
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        return queryset


class LegalHoldReleaseForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="e.g. the case settled.")


@admin.register(LegalHold)
class LegalHoldAdmin(AuditedAdmin):
    form = LegalHoldForm
    list_display = ["name", "reason", "scope", "starts_at", "ends_at", "state", "placed_by"]
    list_filter = [HoldStatusFilter, "reason", "data_category", "system"]
    list_select_related = ["data_category", "system", "table__system", "placed_by"]
    search_fields = ["name", "description"]  # never the subject: search terms end up in URLs
    readonly_fields = ["placed_by", "released_at", "released_by", "release_reason", "ended_at"]
    fieldsets = [
        (None, {"fields": ["name", "reason", "description"]}),
        (
            "Scope (any combination; empty means any)",
            {"fields": ["subject_account_ref", "subject_email", "data_category", "system", "table"]},
        ),
        ("Period", {"fields": ["starts_at", "ends_at"]}),
        ("Record", {"fields": ["placed_by", "released_at", "released_by", "release_reason", "ended_at"]}),
    ]
    change_form_template = "admin/retention/legalhold/change_form.html"

    @admin.display(description="Scope")
    def scope(self, obj: LegalHold) -> str:
        return obj.scope_display

    @admin.display(description="State")
    def state(self, obj: LegalHold) -> str:
        if obj.released_at:
            return "released"
        if obj.is_lapsed():
            # It protects nothing since its end date, and its record is swept 6 years after that date.
            return "lapsed (ended, never released)"
        return "active" if obj.is_active() else "not in force"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.released_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # a hold is evidence: release it instead

    def save_model(self, request, obj, form, change):
        legal_hold_save(hold=obj, actor=request.user)

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/release/",
                self.admin_site.admin_view(self.release_view),
                name="retention_legalhold_release",
            ),
        ]
        return urls + super().get_urls()

    def release_view(self, request, object_id: int):
        hold = get_object_or_404(LegalHold, pk=object_id)
        if not self.has_change_permission(request, hold):
            raise PermissionDenied
        form = LegalHoldReleaseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                legal_hold_release(hold_id=hold.pk, actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                self.report_domain_error(request, exc)
            else:
                self.message_user(request, f"Hold '{hold.name}' released.", level=messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:retention_legalhold_change", args=[hold.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Release hold: {hold.name}",
            "opts": self.model._meta,
            "original": hold,
            "form": form,
            "summary": legal_hold_release_summary(hold),
        }
        return TemplateResponse(request, "admin/retention/legalhold/release.html", context)


class BatchInline(admin.TabularInline):
    model = RetentionRunBatch
    extra = 0
    can_delete = False
    fields = [
        "number",
        "checkpoint_from",
        "checkpoint_to",
        "matched",
        "affected",
        "skipped_held",
        "duration",
        "keys",
        "evidence",
    ]
    readonly_fields = fields
    ordering = ["number"]

    # Rounded figures and short digests (the whole digest on hover): the table fits the page.
    @admin.display(description="Duration")
    def duration(self, obj):
        return milliseconds(obj.duration_ms)

    @admin.display(description="Keys (SHA-256)")
    def keys(self, obj):
        return short_hash(obj.keys_sha256)

    @admin.display(description="Evidence (SHA-256)")
    def evidence(self, obj):
        return short_hash(obj.evidence_sha256)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HoldSkipInline(admin.TabularInline):
    model = RetentionRunHoldSkip
    extra = 0
    can_delete = False
    fields = ["hold", "rows"]
    readonly_fields = fields
    verbose_name_plural = "rows left alone under each legal hold (counted before the sweep)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RetentionRun)
class RetentionRunAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "mode",
        "status",
        "progress",
        "rows_matched",
        "rows_to_affect",
        "rows_affected",
        "rows_skipped_held",
        "batches",
        "created_at",
        "duration",
    ]
    list_filter = ["status", "mode", "origin", "rule"]
    list_select_related = ["rule"]
    date_hierarchy = "created_at"
    inlines = [HoldSkipInline, BatchInline]
    fieldsets = [
        (None, {"fields": ["rule", "mode", "status", "progress", "origin", "started_by", "error"]}),
        (
            "Counts",
            {
                "fields": [
                    "cutoff",
                    "timestamp_column",
                    "rows_matched",
                    "rows_to_affect",
                    "rows_affected",
                    "rows_skipped_held",
                    "batches",
                    "checkpoint",
                    "longest_batch",
                ]
            },
        ),
        ("Evidence", {"fields": ["evidence_sha256"]}),
        (
            "Timeline",
            {
                "fields": [
                    "created_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "approved_by",
                    "approved_at",
                    "cancel_requested_by",
                    "cancel_requested_at",
                    "worker",
                    "heartbeat_at",
                ]
            },
        ),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]
    actions = ["approve_runs", "cancel_runs"]
    change_form_template = "admin/retention/retentionrun/change_form.html"

    @admin.display(description="Progress")
    def progress(self, obj: RetentionRun):
        if obj.mode == RetentionRun.Mode.DRY_RUN:
            return "dry run"
        return format_html('<progress max="100" value="{}"></progress> {}%', obj.progress_percent, obj.progress_percent)

    @admin.display(description="Longest batch")
    def longest_batch(self, obj: RetentionRun):
        return milliseconds(obj.longest_batch_ms)

    @admin.display(description="Duration")
    def duration(self, obj: RetentionRun):
        seconds = obj.duration_seconds
        return "" if seconds is None else f"{seconds:.1f} s"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("retention.approve_retentionrun")

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("retention.cancel_retentionrun")

    @admin.action(description="Approve the selected runs", permissions=["approve"])
    def approve_runs(self, request, queryset):
        for run in queryset:
            self._apply(request, partial(retention_run_approve, http_request=request), run, "approved and queued")

    @admin.action(
        description="Cancel the selected runs (a running sweep stops between batches)", permissions=["cancel"]
    )
    def cancel_runs(self, request, queryset):
        for run in queryset:
            self._apply(request, retention_run_cancel, run, "cancelled")

    def _apply(self, request, service, run, verb: str) -> None:
        try:
            service(run_id=run.pk, actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            self.report_domain_error(request, exc)
        else:
            self.message_user(request, f"Run #{run.pk} {verb}.", level=messages.SUCCESS)

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/approve/", self.admin_site.admin_view(self.approve_view), name="retention_run_approve"
            ),
            path("<int:object_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name="retention_run_cancel"),
            path("<int:object_id>/resume/", self.admin_site.admin_view(self.resume_view), name="retention_run_resume"),
        ]
        return urls + super().get_urls()

    def _post_only(self, request, object_id: int, service, verb: str, allowed: bool):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not allowed:
            raise PermissionDenied
        run = get_object_or_404(RetentionRun, pk=object_id)
        self._apply(request, service, run, verb)
        return HttpResponseRedirect(reverse("admin:retention_retentionrun_change", args=[object_id]))

    def approve_view(self, request, object_id: int):
        return self._post_only(
            request,
            object_id,
            partial(retention_run_approve, http_request=request),
            "approved and queued",
            self.has_approve_permission(request),
        )

    def cancel_view(self, request, object_id: int):
        allowed = self.has_cancel_permission(request)
        return self._post_only(request, object_id, retention_run_cancel, "cancelled", allowed)

    def has_resume_permission(self, request) -> bool:
        return request.user.has_perm("retention.start_retentionrun")

    def resume_view(self, request, object_id: int):
        allowed = self.has_resume_permission(request)
        verb = "queued to resume from its checkpoint"
        return self._post_only(request, object_id, retention_run_resume, verb, allowed)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_approve": run is not None
            and run.status == RunStatus.AWAITING_APPROVAL
            and self.has_approve_permission(request),
            "can_cancel": run is not None and run.status in ACTIVE_RUN_STATUSES and self.has_cancel_permission(request),
            "can_resume": run is not None
            and run.status == RunStatus.FAILED
            and run.mode == RetentionRun.Mode.EXECUTE
            and self.has_resume_permission(request),
            "auto_refresh": run is not None and run.status in (RunStatus.RUNNING, RunStatus.QUEUED),
        }
        return super().change_view(request, object_id, form_url, extra_context)
