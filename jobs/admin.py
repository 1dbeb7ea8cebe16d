"""The outbox in the admin: what waits for the broker, and a button to send it now."""

from __future__ import annotations

from django.contrib import admin

from jobs.models import PendingJob
from jobs.services import job_send


class SentFilter(admin.SimpleListFilter):
    title = "handed to the broker"
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return [("no", "Pending"), ("yes", "Sent")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(PendingJob)
class PendingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "task_name", "args", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = [SentFilter, "task_name"]
    search_fields = ["task_name"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    actions = ["send_now"]
    fields = ["task_name", "args", "created_at", "sent_at", "attempts", "last_attempt_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_send_permission(self, request):
        return request.user.has_perm("jobs.change_pendingjob")

    @admin.action(description="Send the selected pending jobs to the broker now", permissions=["send"])
    def send_now(self, request, queryset):
        sent = sum(job_send(job_id=pk) for pk in queryset.filter(sent_at__isnull=True).values_list("pk", flat=True))
        left = queryset.filter(sent_at__isnull=True).count()
        self.message_user(request, f"{sent} job(s) sent; {left} still pending.")
