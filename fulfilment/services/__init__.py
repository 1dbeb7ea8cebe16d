"""Every write of the fulfilment app goes through these services.

``plans`` starts fulfilment, locates the subject, plans each line, approves,
retries and waives steps and completes lines; ``exports`` builds, delivers and
purges export bundles; ``changes`` runs erasure, restriction and rectification
steps; ``ledger`` keeps the erasure ledger and replays it; ``notices`` sends
Art. 19 notices to recipients.
"""

from fulfilment.services.changes import change_step_run
from fulfilment.services.exports import (
    DownloadRefused,
    bundle_assemble,
    bundle_purge,
    bundle_staff_download,
    bundles_purge_expired,
    download_authorise,
    download_code_send,
    download_link_check,
    download_link_create,
    download_link_resolve,
    download_link_revoke,
    download_url,
    export_system_run,
)
from fulfilment.services.ledger import erasures_replay, ledger_record
from fulfilment.services.notices import notice_confirm, notice_for_token, notice_send, notices_create, notices_remind
from fulfilment.services.plans import (
    fulfilment_check,
    fulfilment_start,
    locate_step_run,
    plan_approve,
    plan_continue,
    plan_progress,
    plan_update_change,
    plans_build,
    step_retry,
    step_waive,
    waiting_steps_poll,
)

__all__ = [
    "DownloadRefused",
    "bundle_assemble",
    "bundle_purge",
    "bundle_staff_download",
    "bundles_purge_expired",
    "change_step_run",
    "download_authorise",
    "download_code_send",
    "download_link_check",
    "download_link_create",
    "download_link_resolve",
    "download_link_revoke",
    "download_url",
    "erasures_replay",
    "export_system_run",
    "fulfilment_check",
    "fulfilment_start",
    "ledger_record",
    "locate_step_run",
    "notice_confirm",
    "notice_for_token",
    "notice_send",
    "notices_create",
    "notices_remind",
    "plan_approve",
    "plan_continue",
    "plan_progress",
    "plan_update_change",
    "plans_build",
    "step_retry",
    "step_waive",
    "waiting_steps_poll",
]
