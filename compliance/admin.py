import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from compliance import audit
from compliance.admin_base import AuditedAdmin, csv_response
from compliance.manual_tasks import ACTION_NAMES
from compliance.models import (
    DataCategory,
    LegalBasis,
    ManualTask,
    ManualTaskTable,
    MappedColumn,
    MappedTable,
    MappingSuggestion,
    ProcessingActivity,
    ProcessingPurpose,
    Regime,
    RegimeRight,
    ReviewedTable,
    Right,
    SubjectType,
    SystemOfRecord,
    WorkerHeartbeat,
)


class TaxonomyAdmin(AuditedAdmin):
    list_display = ["name", "slug", "policy_section", "display_order"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["display_order", "name"]


@admin.register(DataCategory)
class DataCategoryAdmin(TaxonomyAdmin):
    fields = ["name", "slug", "description", "examples", "policy_section", "display_order"]


@admin.register(ProcessingPurpose)
class ProcessingPurposeAdmin(TaxonomyAdmin):
    pass


@admin.register(LegalBasis)
class LegalBasisAdmin(TaxonomyAdmin):
    list_display = ["name", "slug", "article", "display_order"]


@admin.register(SubjectType)
class SubjectTypeAdmin(TaxonomyAdmin):
    pass


@admin.register(Right)
class RightAdmin(TaxonomyAdmin):
    pass


class RegimeRightInline(admin.TabularInline):
    model = RegimeRight
    extra = 0
    fields = ["right", "response_period", "response_unit", "identity_verification_allowed", "notes"]


@admin.register(Regime)
class RegimeAdmin(AuditedAdmin):
    list_display = [
        "name",
        "code",
        "response_period",
        "response_unit",
        "extension_period",
        "acknowledge_period",
        "acknowledge_unit",
        "holiday_country",
        "is_active",
    ]
    list_filter = ["is_active", "response_unit"]
    search_fields = ["name", "code", "jurisdiction"]
    inlines = [RegimeRightInline]
    fieldsets = [
        (None, {"fields": ["name", "code", "jurisdiction", "source", "is_active"]}),
        (
            "Response clock",
            {
                "fields": [
                    ("response_period", "response_unit"),
                    "extension_period",
                    "extension_requires_reason",
                    "extension_notice_before_due",
                    ("acknowledge_period", "acknowledge_unit"),
                    "roll_to_working_day",
                    "identity_starts_clock",
                    "clarification_pauses_clock",
                    "clock_rules_from",
                    "internal_margin_days",
                ]
            },
        ),
        ("Calendar", {"fields": ["holiday_country", "holiday_subdivision"]}),
        (
            "Complaints and records",
            {"fields": ["supervisory_authority", "supervisory_authority_url", "record_retention_months", "notes"]},
        ),
    ]


@admin.register(ProcessingActivity)
class ProcessingActivityAdmin(AuditedAdmin):
    list_display = ["name", "role", "purpose", "legal_basis", "retention_reference"]
    list_filter = ["role", "purpose", "legal_basis"]
    list_select_related = ["purpose", "legal_basis"]
    search_fields = ["name", "description"]
    filter_horizontal = ["data_categories", "subject_types"]
    actions = ["export_csv"]

    @admin.action(description="Export the record of processing (CSV)", permissions=["view"])
    def export_csv(self, request, queryset):
        from compliance.selectors import processing_activity_rows

        header, rows = processing_activity_rows(queryset)
        audit.access_event_record(
            actor=request.user,
            action=audit.EXPORTED_RECORDS,
            request=request,
            detail=f"record of processing: {queryset.count()} activities",
        )
        return csv_response("record-of-processing.csv", header, rows)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["worker", "last_beat_at", "beats", "first_seen_at"]
    readonly_fields = ["worker", "last_beat_at", "beats", "first_seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MappedColumnInline(admin.TabularInline):
    model = MappedColumn
    extra = 0
    fields = [
        "name",
        "data_category",
        "not_personal",
        "treatment",
        "replacement",
        "is_timestamp",
        "access_withheld",
        "needs_review",
        "notes",
    ]


def _report_schema_check(model_admin, request, problems: list[str], checked: str) -> None:
    if not problems:
        model_admin.message_user(request, f"{checked}: the map matches the database schema.", messages.SUCCESS)
        return
    for problem in problems[:50]:
        model_admin.message_user(request, problem, messages.ERROR)
    if len(problems) > 50:
        model_admin.message_user(
            request, f"... and {len(problems) - 50} more (run manage.py datamap_audit).", messages.ERROR
        )


def _record_data_map_change(request, obj, detail: str) -> None:
    # Names of tables and columns are not personal data; the detail says what changed.
    audit.access_event_record(
        actor=request.user, action=audit.CHANGED_DATA_MAP, obj=obj, request=request, detail=detail[:200]
    )


class DataMapAuditMixin:
    """Every change to the data map through the admin is an access event, in the change's own transaction
    (the admin saves and deletes inside one): the map decides what is exported and erased."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            _record_data_map_change(request, obj, "added")
        elif form.changed_data:  # saving an unchanged form (only its inline changed) changes nothing here
            _record_data_map_change(request, obj, f"changed {', '.join(form.changed_data)}")

    def delete_model(self, request, obj):
        _record_data_map_change(request, obj, "deleted")
        super().delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        added, changed, deleted = (
            len(formset.new_objects),
            len(formset.changed_objects),
            len(formset.deleted_objects),
        )
        if added or changed or deleted:
            noun = formset.model._meta.verbose_name_plural
            _record_data_map_change(
                request, form.instance, f"{noun}: {added} added, {changed} changed, {deleted} deleted"
            )


def _import_columns(model_admin, request, tables) -> None:
    from compliance.datamap import mapped_table_import_columns

    total = 0
    for table in tables:
        try:
            with transaction.atomic():
                added = mapped_table_import_columns(table=table, actor=request.user)
                if added:
                    _record_data_map_change(request, table, f"imported {len(added)} column(s) from the schema")
        except ValidationError as exc:
            model_admin.report_domain_error(request, exc)
            continue
        total += len(added)
        if added:
            model_admin.message_user(
                request,
                f"{table}: imported {len(added)} column(s) ({', '.join(added)}), unclassified and flagged for review.",
                messages.WARNING,
            )
    if not total:
        model_admin.message_user(request, "No new columns: every database column is already in the map.")


class SystemOfRecordForm(forms.ModelForm):
    """The database alias is chosen from the aliases in settings: credentials never reach the database."""

    database_alias = forms.ChoiceField(required=False)

    class Meta:
        model = SystemOfRecord
        fields = [
            "name",
            "slug",
            "description",
            "owner",
            "kind",
            "database_alias",
            "webhook_url",
            "webhook_secret_setting",
            "manual_assignee",
            "manual_instructions",
            "data_categories",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A view-only user's form has these as read-only values, not fields.
        if "database_alias" in self.fields:
            aliases = [alias for alias in settings.DATABASES if alias != "default"] + ["default"]
            self.fields["database_alias"].choices = [("", "---------")] + [(a, a) for a in aliases]
            self.fields["database_alias"].help_text = SystemOfRecord._meta.get_field("database_alias").help_text
        if "webhook_secret_setting" in self.fields:
            secrets = sorted(getattr(settings, "WEBHOOK_SECRETS", {}))
            self.fields["webhook_secret_setting"].help_text += (
                f" Configured: {', '.join(secrets)}." if secrets else " None configured (WEBHOOK_SECRET_NAMES)."
            )


class ReviewedTableInline(admin.TabularInline):
    """Tables of the system's database a person reviewed and found to hold no personal data: the audit
    counts them as covered."""

    model = ReviewedTable
    extra = 0
    fields = ["table_name", "reason", "needs_review"]
    verbose_name = "table reviewed as not personal"


@admin.register(SystemOfRecord)
class SystemOfRecordAdmin(DataMapAuditMixin, AuditedAdmin):
    form = SystemOfRecordForm
    list_display = ["name", "kind", "database_alias", "owner", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "owner"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["data_categories"]
    list_select_related = ["manual_assignee"]
    inlines = [ReviewedTableInline]
    actions = ["check_against_schema", "import_columns_from_schema", "discover_suggestions"]

    @admin.action(description="Discover unmapped tables and columns (suggestions to review)", permissions=["change"])
    def discover_suggestions(self, request, queryset):
        from django.urls import reverse

        from compliance.connectors.base import ConnectorError
        from compliance.discovery import mapping_suggestions_refresh

        for system in queryset.filter(kind=SystemOfRecord.Kind.SQL, is_active=True):
            try:
                suggestions = mapping_suggestions_refresh(system_id=system.pk, actor=request.user)
            except ConnectorError as exc:
                self.report_domain_error(request, exc)
                continue
            _record_data_map_change(request, system, f"discovery: {len(suggestions)} open suggestion(s)")
            url = (
                reverse("admin:compliance_mappingsuggestion_changelist")
                + f"?system__id__exact={system.pk}&status__exact=open"
            )
            self.message_user(
                request,
                format_html(
                    '{}: {} suggestion(s) to review. <a href="{}">Review them</a>; nothing is in the map until '
                    "accepted.",
                    system,
                    len(suggestions),
                    url,
                ),
                messages.WARNING if suggestions else messages.SUCCESS,
            )

    @admin.action(description="Check against schema", permissions=["view"])
    def check_against_schema(self, request, queryset):
        from compliance.datamap import datamap_audit

        _report_schema_check(self, request, datamap_audit(systems=queryset), f"{queryset.count()} system(s)")

    @admin.action(description="Import columns from schema", permissions=["change"])
    def import_columns_from_schema(self, request, queryset):
        tables = MappedTable.objects.filter(system__in=queryset, system__kind=SystemOfRecord.Kind.SQL)
        _import_columns(self, request, tables.select_related("system"))


class NeedsReviewFilter(admin.SimpleListFilter):
    title = "columns to review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("yes", "Has unclassified or flagged columns")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            from django.db.models import Q

            return queryset.filter(
                Q(columns__needs_review=True) | Q(columns__data_category__isnull=True, columns__not_personal=False)
            ).distinct()
        return queryset


@admin.register(MappedTable)
class MappedTableAdmin(DataMapAuditMixin, AuditedAdmin):
    list_display = ["table_name", "system", "primary_key", "subject_column", "subject_key", "parent"]
    list_filter = ["system", NeedsReviewFilter]
    list_select_related = ["system", "parent", "parent__system"]
    search_fields = ["table_name"]
    inlines = [MappedColumnInline]
    actions = ["check_against_schema", "import_columns_from_schema"]

    def get_changeform_initial_data(self, request):
        # Not the model's "id": a table may have no such column. Left empty, the table's own key is taken.
        return {"primary_key": "", **super().get_changeform_initial_data(request)}

    def get_form(self, request, obj=None, **kwargs):
        kwargs["help_texts"] = {
            **(kwargs.get("help_texts") or {}),
            "primary_key": "The column(s) identifying one row, separated by commas for a key of several: the "
            "table's primary key or a unique constraint's columns. Leave empty to take the table's own; a table "
            "without one (a log) is located, exported and erased by its subject, but not swept.",
        }
        return super().get_form(request, obj, **kwargs)

    @admin.action(description="Check against schema", permissions=["view"])
    def check_against_schema(self, request, queryset):
        from compliance.datamap import datamap_audit

        _report_schema_check(self, request, datamap_audit(tables=queryset), f"{queryset.count()} table(s)")

    @admin.action(description="Import columns from schema", permissions=["change"])
    def import_columns_from_schema(self, request, queryset):
        _import_columns(self, request, queryset.select_related("system"))


class ManualTaskTableInline(admin.TabularInline):
    model = ManualTaskTable
    extra = 0
    fields = ["table", "rows"]
    readonly_fields = ["table"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ManualTaskForm(forms.ModelForm):
    mark_done = forms.BooleanField(
        required=False, label="Mark as done", help_text="Closes the task; the row counts above must be filled in."
    )

    class Meta:
        model = ManualTask
        fields = ["assignee", "outcome"]


TASK_REFERENCE = re.compile(r"^([A-Z]+-\d{4}-\d{5}):")


@admin.register(ManualTask)
class ManualTaskAdmin(AuditedAdmin):
    """Tasks are opened by the manual connector; people fill in counts and close them here."""

    form = ManualTaskForm
    list_display = ["id", "reference", "action", "system", "status", "assignee", "created_at", "completed_at"]
    list_display_links = ["id", "reference", "action"]
    list_filter = ["status", "operation", "system"]
    list_select_related = ["system", "assignee"]
    search_fields = ["title"]
    search_help_text = "Search by request reference (DSR-2026-00046 or 00046) or system name."
    inlines = [ManualTaskTableInline]
    readonly_fields = [
        "system",
        "operation",
        "status",
        "title",
        "instructions",
        "subject_account_ref",
        "subject_email",
        "created_at",
        "completed_at",
        "completed_by",
    ]
    fieldsets = [
        (None, {"fields": ["title", "system", "operation", "status", "assignee"]}),
        ("What to do", {"fields": ["instructions", "subject_account_ref", "subject_email"]}),
        ("Outcome", {"fields": ["outcome", "mark_done", "created_at", "completed_at", "completed_by"]}),
    ]
    actions = ["cancel_tasks", "reopen_tasks"]

    @admin.display(description="Request", ordering="title")
    def reference(self, obj):
        match = TASK_REFERENCE.match(obj.title)
        return match.group(1) if match else "-"

    @admin.display(description="Action", ordering="operation")
    def action(self, obj):
        return ACTION_NAMES.get(obj.operation, obj.get_operation_display())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.status != ManualTask.Status.OPEN or not self.has_change_permission(request, obj):
            return [(name, {"fields": [f for f in opts["fields"] if f != "mark_done"]}) for name, opts in fieldsets]
        return fieldsets

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.cleaned_data.get("mark_done"):
            from compliance.manual_tasks import manual_task_complete

            try:
                manual_task_complete(task_id=form.instance.pk, actor=request.user)
            except ValidationError as exc:
                self.report_domain_error(request, exc)
            else:
                self.message_user(request, f"Manual task {form.instance.pk} is done.", messages.SUCCESS)

    @admin.action(description="Cancel selected open tasks", permissions=["change"])
    def cancel_tasks(self, request, queryset):
        from compliance.manual_tasks import manual_task_cancel

        for task in queryset:
            try:
                manual_task_cancel(task_id=task.pk, actor=request.user)
            except ValidationError as exc:
                self.report_domain_error(request, exc)

    @admin.action(description="Reopen selected cancelled tasks", permissions=["change"])
    def reopen_tasks(self, request, queryset):
        from compliance.manual_tasks import manual_task_reopen

        for task in queryset:
            try:
                manual_task_reopen(task_id=task.pk, actor=request.user)
            except ValidationError as exc:
                self.report_domain_error(request, exc)


class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """Beat's schedule. Its enable, disable, toggle and run actions change or start jobs (a retention
    sweep, a digest), so they need the change permission: beat's own admin offers them to anyone who
    can read the list, auditors included."""

    CHANGING_ACTIONS = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            for name in self.CHANGING_ACTIONS:
                actions.pop(name, None)
        return actions


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)


@admin.register(MappingSuggestion)
class MappingSuggestionAdmin(AuditedAdmin):
    """What discovery and the weekly drift check suggest, with the evidence (counts only). Nobody edits a
    suggestion: officers accept or dismiss them one by one, and an accepted one is validated as if typed in
    the data map's own pages."""

    list_display = ["where", "kind", "suggestion", "evidence", "status", "updated_at"]
    list_filter = ["status", "kind", "system"]
    list_select_related = ["system", "data_category"]
    search_fields = ["table_name", "column_name"]
    readonly_fields = [
        "system",
        "kind",
        "table_name",
        "column_name",
        "primary_key",
        "subject_column",
        "subject_key",
        "parent_table",
        "parent_column",
        "account_email_column",
        "data_category",
        "not_personal",
        "treatment",
        "replacement",
        "is_timestamp",
        "evidence",
        "status",
        "created_at",
        "updated_at",
        "decided_at",
        "decided_by",
    ]
    actions = ["accept_suggestions", "dismiss_suggestions"]

    @admin.display(description="Table or column", ordering="table_name")
    def where(self, obj):
        return f"{obj.system.slug}.{obj.table_name}" + (f".{obj.column_name}" if obj.column_name else "")

    @admin.display(description="Suggested")
    def suggestion(self, obj):
        if obj.kind == MappingSuggestion.Kind.REVIEWED:
            return "not personal (reviewed table)"
        if obj.kind == MappingSuggestion.Kind.TABLE:
            if obj.subject_column:
                link = f"subject: {obj.subject_column} ({obj.get_subject_key_display().lower()})"
            elif obj.parent_table:
                link = f"parent: {obj.parent_table} by {obj.parent_column}"
            else:
                link = "no subject link found"
            return f"key {obj.primary_key or '(none)'}; {link}"
        what = "not personal" if obj.not_personal else (obj.data_category.name if obj.data_category else "?")
        return f"{what}; {obj.get_treatment_display().lower() if obj.treatment else 'keep'}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("compliance.change_mappingsuggestion") and request.user.has_perm(
            "compliance.change_mappedtable"
        )

    @admin.action(description="Accept the selected suggestions (each into the data map)", permissions=["decide"])
    def accept_suggestions(self, request, queryset):
        from compliance.discovery import mapping_suggestion_accept

        # Tables before columns, parents (fewer hops) first: accepting a whole selection works in one go.
        order = {MappingSuggestion.Kind.REVIEWED: 0, MappingSuggestion.Kind.TABLE: 1}
        pending = sorted(queryset.select_related("system"), key=lambda s: (order.get(s.kind, 2), s.pk))
        for _round in range(len(pending) or 1):
            refused = []
            for suggestion in pending:
                try:
                    with transaction.atomic():
                        mapping_suggestion_accept(suggestion_id=suggestion.pk, actor=request.user)
                        _record_data_map_change(request, suggestion, f"accepted suggestion: {suggestion}")
                except ValidationError as exc:
                    refused.append((suggestion, exc))
                else:
                    self.message_user(request, f"Accepted: {suggestion}.", messages.SUCCESS)
            if len(refused) == len(pending):
                break
            pending = [s for s, _exc in refused]
        for _suggestion, exc in refused:
            self.report_domain_error(request, exc)

    @admin.action(description="Dismiss the selected suggestions", permissions=["decide"])
    def dismiss_suggestions(self, request, queryset):
        from compliance.discovery import mapping_suggestion_dismiss

        for suggestion in queryset:
            try:
                mapping_suggestion_dismiss(suggestion_id=suggestion.pk, actor=request.user)
            except ValidationError as exc:
                self.report_domain_error(request, exc)
            else:
                self.message_user(request, f"Dismissed: {suggestion}.", messages.SUCCESS)
