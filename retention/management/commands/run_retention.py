"""Run retention rules now, from a shell: the operator's way to count or sweep without waiting for beat."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError
from django.utils import timezone

from compliance.connectors import ConnectorUnavailable
from retention.models import RetentionRule, RetentionRun, RunStatus
from retention.services import RunLeaseHeld, retention_run_execute, retention_run_start


class Command(BaseCommand):
    help = (
        "Start every enabled retention rule (or one, with --rule) now. A run counts first; under its approval "
        "threshold it sweeps here, in this process, else it waits for a compliance officer's approval in the "
        "admin. --dry-run only counts. Exits non-zero when a run fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rule", type=int, help="Id of the rule to run (default: every enabled rule).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be swept; change nothing.")

    def handle(self, *args, rule: int | None, dry_run: bool, **options):
        rules = RetentionRule.objects.order_by("pk")
        if rule is not None:
            rules = rules.filter(pk=rule)
            if not rules.exists():
                raise CommandError(f"No retention rule with id {rule}.")
        else:
            rules = rules.filter(is_enabled=True)
        mode = RetentionRun.Mode.DRY_RUN if dry_run else RetentionRun.Mode.EXECUTE
        failed = 0
        for item in rules:
            try:
                run = retention_run_start(rule_id=item.pk, mode=mode, origin="command", enqueue=False)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
            if run.status == RunStatus.QUEUED:
                try:
                    run = retention_run_execute(run_id=run.pk)
                except RunLeaseHeld:
                    self.stdout.write(f"Rule #{item.pk} '{item.name}': run #{run.pk} is being swept by a worker.")
                    continue
                except (OperationalError, ConnectorUnavailable):
                    # Recorded as failed at its checkpoint: "Resume" in the admin continues it.
                    run.refresh_from_db()
            failed += run.status == RunStatus.FAILED
            self.stdout.write(self._describe(item, run))
        if failed:
            raise CommandError(f"{failed} run(s) failed; see the runs in the admin.")

    def _describe(self, rule: RetentionRule, run: RetentionRun) -> str:
        head = (
            f"Rule #{rule.pk} '{rule.name}' run #{run.pk} ({run.get_mode_display().lower()}): "
            f"{run.rows_matched:,} rows before {timezone.localtime(run.cutoff):%Y-%m-%d %H:%M %Z}, "
            f"{run.rows_to_affect:,} to affect"
        )
        skips = [f"{skip.hold.name}: {skip.rows:,}" for skip in run.hold_skips.select_related("hold")]
        if skips:
            head += f", held ({'; '.join(skips)})"
        if run.status == RunStatus.FAILED:
            return self.style.ERROR(f"{head}. FAILED: {run.error}")
        if run.status == RunStatus.AWAITING_APPROVAL:
            return self.style.WARNING(
                f"{head}. Awaits approval (more than {rule.approval_threshold:,} rows): approve run #{run.pk} "
                "in the admin."
            )
        if run.mode == RetentionRun.Mode.EXECUTE and run.status == RunStatus.SUCCEEDED:
            return self.style.SUCCESS(
                f"{head}. Done: {run.rows_affected:,} {rule.get_action_display().split()[0].lower()}d, "
                f"{run.rows_skipped_held:,} skipped under holds, {run.batches} batches, "
                f"evidence sha256 {run.evidence_sha256}."
            )
        return f"{head}. {run.get_status_display()}."
