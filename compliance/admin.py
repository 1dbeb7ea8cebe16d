from django.contrib import admin

from compliance.admin_base import AuditedAdmin, csv_response
from compliance.models import (
    DataCategory,
    LegalBasis,
    MappedColumn,
    MappedTable,
    ProcessingActivity,
    ProcessingPurpose,
    Regime,
    RegimeRight,
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
    fields = ["name", "data_category", "not_personal", "treatment", "replacement", "is_timestamp", "notes"]


@admin.register(SystemOfRecord)
class SystemOfRecordAdmin(AuditedAdmin):
    list_display = ["name", "kind", "database_alias", "owner", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "owner"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["data_categories"]


@admin.register(MappedTable)
class MappedTableAdmin(AuditedAdmin):
    list_display = ["table_name", "system", "primary_key", "subject_column", "subject_key", "parent"]
    list_filter = ["system"]
    list_select_related = ["system", "parent", "parent__system"]
    search_fields = ["table_name"]
    inlines = [MappedColumnInline]
