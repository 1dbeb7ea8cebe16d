"""Beat's stall job: work whose worker or job was lost is queued again, finished work is completed.

Jobs are acknowledged late, so a worker killed mid-step leaves its message in the broker's
unacknowledged set, redelivered only after the visibility timeout (an hour on Redis), and lost
altogether if the broker restarts without persistence; the outbox has marked it sent by then. The
database is what survives: a running step, export or assembly holds a lease its worker renews
(``FULFILMENT_LEASE_SECONDS``), and a queued step carries the moment its job was queued. What
``fulfilment.selectors.stalled_work`` finds idle past the lease is resumed here through the outbox.
Every resumption is idempotent, as the steps are: a step done is skipped, a plan or bundle already
completed is left alone, and each step is queued once while its job is outstanding.
"""

from __future__ import annotations

from django.db import transaction

from fulfilment.models import FulfilmentStep
from fulfilment.selectors import Stall, stalled_work
from fulfilment.services.common import logger
from fulfilment.services.plans import bundle_progress, plan_continue, plan_progress, plans_build, step_enqueue


def _resume(stall: Stall) -> None:
    if stall.resume == "step":
        step = FulfilmentStep.objects.get(pk=stall.object_id)
        step_enqueue(step)
    elif stall.resume == "plan":
        plan_continue(plan_id=stall.object_id)
    elif stall.resume == "plan_progress":
        plan_progress(plan_id=stall.object_id)
    elif stall.resume == "bundle":
        bundle_progress(bundle_id=stall.object_id)
    elif stall.resume == "plans_build":
        plans_build(request_id=stall.object_id)


def stalled_work_resume() -> int:
    """Queue again (or complete) every piece of stalled work. Returns how many were resumed.

    Each piece is resumed in its own transaction, so one that fails (logged by kind, never data) does not
    hold back the others; beat runs this every minute.
    """
    resumed = 0
    for stall in stalled_work():
        try:
            with transaction.atomic():
                _resume(stall)
        except Exception as exc:  # one broken piece must not stop the others; it is found again next time
            logger.error("fulfilment: resuming %s %s failed (%s)", stall.resume, stall.object_id, type(exc).__name__)
            continue
        resumed += 1
        logger.warning(
            "fulfilment: resumed stalled %s %s (request %s)", stall.resume, stall.object_id, stall.request_id
        )
    return resumed
