"""The access audit: who looked at or acted on personal data, and when.

An ``AccessEvent`` names its object by content type and primary key only: no
``str(obj)``, which for a rights request would be the requester's name. Events
are written by ``security.services.access_event_record`` and never edited or
deleted through the admin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AccessAction(models.TextChoices):
    # Each is recorded by a feature (its test goes through that feature's page or action):
    # no action is listed here that nothing records.
    VIEWED_PERSONAL_FIELDS = "viewed_personal_fields", "Viewed personal fields"
    DOWNLOADED_BUNDLE = "downloaded_bundle", "Downloaded an export bundle"
    APPROVED_PLAN = "approved_plan", "Approved an erasure or rectification plan"
    APPROVED_RUN = "approved_run", "Approved a retention run"
    EXPORTED_LOG = "exported_log", "Exported a log"
    EXPORTED_RECORDS = "exported_records", "Exported records (CSV)"
    CHANGED_DATA_MAP = "changed_data_map", "Changed the data map"
    ENROLLED_TWO_FACTOR = "enrolled_two_factor", "Enrolled an authenticator"
    VERIFIED_TWO_FACTOR = "verified_two_factor", "Signed in with two-factor"
    USED_RECOVERY_CODE = "used_recovery_code", "Signed in with a recovery code"
    REGENERATED_RECOVERY_CODES = "regenerated_recovery_codes", "Regenerated recovery codes"
    RESET_TWO_FACTOR = "reset_two_factor", "Reset someone's two-factor devices"


class AccessEvent(models.Model):
    Action = AccessAction

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,  # the trail must outlive the account: deactivate staff, never delete them
        related_name="access_events",
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Ids, counts or a file name; never personal data.",
    )

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="accessevent_object_idx"),
            models.Index(fields=["actor", "-occurred_at"], name="accessevent_actor_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=[choice.value for choice in AccessAction]),
                name="accessevent_action_known",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(content_type__isnull=True, object_id="")
                    | (models.Q(content_type__isnull=False) & ~models.Q(object_id=""))
                ),
                name="accessevent_object_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by user #{self.actor_id} at {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def object_label(self) -> str:
        """``rights request #12``: the kind of object and its id, nothing from its fields."""
        if self.content_type_id is None:
            return ""
        return f"{self.content_type.name} #{self.object_id}"
