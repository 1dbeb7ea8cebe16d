"""Writes of the retention app: rules, legal holds, runs.

Every write goes through one of these services (keyword-only arguments, an
explicit ``actor``); admin, the management command, beat's tasks and the demo
call them.
"""

from retention.services.holds import legal_hold_place, legal_hold_release, legal_hold_save
from retention.services.rules import (
    retention_rule_create,
    retention_rule_delete,
    retention_rule_regime_basis_set,
    retention_rule_save,
    retention_rule_schedule_sync,
)
from retention.services.runs import (
    RunLeaseHeld,
    retention_run_approve,
    retention_run_cancel,
    retention_run_execute,
    retention_run_resume,
    retention_run_start,
    retention_runs_resume_stalled,
)

__all__ = [
    "RunLeaseHeld",
    "legal_hold_place",
    "legal_hold_release",
    "legal_hold_save",
    "retention_rule_create",
    "retention_rule_delete",
    "retention_rule_regime_basis_set",
    "retention_rule_save",
    "retention_rule_schedule_sync",
    "retention_run_approve",
    "retention_run_cancel",
    "retention_run_execute",
    "retention_run_resume",
    "retention_run_start",
    "retention_runs_resume_stalled",
]
