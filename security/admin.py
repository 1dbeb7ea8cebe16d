"""Admin for the access audit (read-only, exportable) and for second-factor devices (superusers reset them)."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.admin_base import csv_safe
from security.models import AccessEvent
from security.services import access_event_record, two_factor_reset

CSV_HEADER = ["occurred_at", "actor_id", "actor", "action", "object_type", "object_id", "ip_address", "detail"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(events):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events.iterator(chunk_size=2000):
        object_type = f"{event.content_type.app_label}.{event.content_type.model}" if event.content_type_id else ""
        row = [
            event.occurred_at.isoformat(),
            event.actor_id,
            event.actor.get_username(),
            event.action,
            object_type,
            event.object_id,
            event.ip_address or "",
            event.detail,
        ]
        yield writer.writerow([csv_safe(value) for value in row])


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the trail is evidence."""

    list_display = ["occurred_at", "actor", "action", "object_link", "ip_address", "detail"]
    list_filter = ["action", ("content_type", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["actor", "content_type"]
    search_fields = ["actor__username", "object_id"]
    date_hierarchy = "occurred_at"
    fields = ["occurred_at", "actor", "action", "object_link", "ip_address", "detail"]
    readonly_fields = fields
    change_list_template = "admin/security/accessevent/change_list.html"
    actions = ["export_selected_csv"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Object")
    def object_link(self, event: AccessEvent) -> str:
        if event.content_type_id is None:
            return "-"
        label = event.object_label
        content_type = event.content_type
        try:
            url = reverse(f"admin:{content_type.app_label}_{content_type.model}_change", args=[event.object_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    def get_urls(self):
        urls = [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="security_accessevent_export",
            )
        ]
        return urls + super().get_urls()

    def _export(self, request: HttpRequest, events, scope: str) -> StreamingHttpResponse:
        count = events.count()
        access_event_record(
            actor=request.user, action=AccessEvent.Action.EXPORTED_LOG, request=request, detail=f"{count} {scope}"
        )
        response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="access-events.csv"'
        return response

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """Every event the changelist shows with its current filters, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        events = changelist.get_queryset(request).select_related("actor", "content_type").order_by("occurred_at", "pk")
        return self._export(request, events, "access events (filtered list)")

    @admin.action(description="Export selected access events as CSV", permissions=["view"])
    def export_selected_csv(self, request: HttpRequest, queryset):
        events = queryset.select_related("actor", "content_type").order_by("occurred_at", "pk")
        return self._export(request, events, "access events (selected)")


class _DeviceAdmin(admin.ModelAdmin):
    """Devices are enrolled by their owner only; a superuser can reset a user's second factor."""

    list_select_related = ["user"]
    search_fields = ["user__username"]
    list_filter = ["confirmed"]
    actions = ["reset_two_factor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a reset removes every device of the user and is recorded; see the action

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    @admin.action(
        description="Reset two-factor of these users (they set up a new authenticator at next login)",
        permissions=["reset"],
    )
    def reset_two_factor(self, request: HttpRequest, queryset):
        users = {device.user for device in queryset.select_related("user")}
        for user in users:
            two_factor_reset(actor=request.user, user=user, request=request)
        self.message_user(request, f"Two-factor reset for {len(users)} user(s).", level=messages.SUCCESS)


admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(_DeviceAdmin):
    # No key, no QR code: the secret is shown once, to its owner, at enrolment.
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    fields = list_display
    readonly_fields = fields


@admin.register(StaticDevice)
class StaticDeviceAdmin(_DeviceAdmin):
    # Recovery codes themselves are never shown here, only how many are left.
    list_display = ["user", "name", "confirmed", "codes_left", "created_at", "last_used_at"]
    fields = list_display
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(codes_left_count=Count("token_set"))

    @admin.display(description="Recovery codes left", ordering="codes_left_count")
    def codes_left(self, device) -> int:
        return device.codes_left_count
