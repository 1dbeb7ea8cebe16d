"""The outbox: jobs written in the same transaction as the change that needs them.

A service that must start a job after its change (deliver a letter, run a
fulfilment step) writes a ``PendingJob`` row next to the change, and the row
is handed to the broker once the transaction commits. If the broker is down
at that moment the change is still saved and the row stays unsent; beat's
"resend" job hands it over when the broker answers again. A row holds a task
name and record ids, never personal data; its error is an exception class name.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PendingJob(models.Model):
    task_name = models.CharField(max_length=200, help_text="Dotted name of the Celery task.")
    args = models.JSONField(default=list, blank=True, help_text="Record ids only, never personal data.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the broker accepted it.")
    attempts = models.PositiveIntegerField(default=0, help_text="Hand-overs to the broker tried.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(
        max_length=200, blank=True, default="", help_text="Kind of error of the last failed hand-over (no details)."
    )
    # A process handing the row to the broker holds it until then, so two senders do not both send it;
    # a sender that dies mid-way lets it go when this passes.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="pendingjob_unsent_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(task_name=""), name="pendingjob_task_named"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None
