"""A real worker process SIGKILLed in the middle of an export, of an erasure, or of a bundle's
bookkeeping, or a Redis restart that loses the jobs, and the work still finishes with the same end state
as an uninterrupted run.

The worker is a real Celery process on the test databases and Redis, with the production visibility
timeout (3600 s): the message a killed worker held stays in Redis's unacknowledged set for an hour, or is
lost with a Redis restart. What recovers the work is the lease: the killed worker stops renewing it, and
beat's stall job (``stalled_work_resume``, called here past the lease with time-machine, as beat would
call it) queues the work again through the outbox for the restarted worker, which skips what is done and
finishes the rest.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import zipfile
from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.core.files.storage import storages
from django.db import connections
from django.utils import timezone

from config.celery_app import app as celery_app
from fulfilment.models import DownloadLink, ErasureLedgerEntry, ExportBundle, FulfilmentPlan, FulfilmentStep
from fulfilment.selectors import stalled_work
from fulfilment.services import fulfilment_start, locate_step_run, plan_approve
from fulfilment.services.common import bundle_storage
from fulfilment.services.stalls import stalled_work_resume
from jobs.models import PendingJob
from tests.support import processes
from tests.support.platform import platform_execute, platform_restore, platform_state
from tests.support.processes import RedisServer, broker, free_port, purge_default_queue, url_for

# Production's visibility timeout: a killed worker's message comes back only after an hour.
VISIBILITY_TIMEOUT = "3600"
# The lease, short so that "within the lease time" is seconds of a test, not minutes.
LEASE_SECONDS = 3

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


@pytest.fixture
def bundles_dir(tmp_path, settings):
    """Bundles in a folder both this process and the worker use (the ``default`` storage)."""
    folder = tmp_path / "bundles"
    settings.EXPORT_BUNDLE_STORAGE = "default"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}},
    }
    storages._storages.pop("default", None)
    yield folder
    storages._storages.pop("default", None)


@pytest.fixture(autouse=True)
def _short_lease(settings):
    settings.FULFILMENT_LEASE_SECONDS = LEASE_SECONDS  # this process's stall job; the workers get the same


@pytest.fixture
def worker(bundles_dir, workers):
    """Start real workers on the test databases, sharing the bundles' folder; all are stopped afterwards."""
    purge_default_queue(unacked=True)  # nor anything held by workers killed in earlier tests

    def start(broker_url: str | None = None) -> subprocess.Popen:
        return workers(
            "faults",
            broker_url=broker_url,
            CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT,
            FULFILMENT_LEASE_SECONDS=str(LEASE_SECONDS),
            EXPORT_BUNDLE_STORAGE="default",
            DJANGO_MEDIA_ROOT=str(bundles_dir),
            EXPORT_BUNDLE_TEMP_DIR=str(bundles_dir.parent),
        )

    return start


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(predicate, *, timeout: float = 180.0):
    """Poll another process's effect in the database (the harness's, with this module's longer timeout)."""
    return processes.wait_for(predicate, timeout=timeout, interval=0.02)


def resume_after_the_lease() -> int:
    """Beat's stall job, run as it would run once the lease has lapsed: nothing is stalled before."""
    assert stalled_work() == []  # within the lease nothing is taken from a worker that may be alive
    with time_machine.travel(timezone.now() + timedelta(seconds=LEASE_SECONDS + 1), tick=False):
        resumed = stalled_work_resume()
        assert stalled_work_resume() == 0  # queued once while its job is outstanding
    assert resumed >= 1
    return resumed


def _eager(on: bool) -> None:
    celery_app.conf.task_always_eager = on
    celery_app.conf.task_eager_propagates = on


@pytest.fixture(autouse=True)
def _not_eager():
    _eager(False)
    yield
    _eager(False)


def _step(request, kind: str, table: str) -> FulfilmentStep | None:
    return FulfilmentStep.objects.filter(request=request, kind=kind, table__table_name=table).first()


def _data_files(bundle: ExportBundle) -> dict[str, tuple[int, str]]:
    return {
        f["name"]: (f["rows"], f["sha256"]) for f in bundle.manifest["files"] if f["name"].endswith((".csv", ".jsonl"))
    }


def test_an_export_killed_in_the_middle_of_a_table_resumes_and_builds_the_same_bundle(
    platform, open_request, officer, worker
):
    account_id = int(platform.subject.account_ref)
    # Enough rows that exporting this table takes a while: the worker is killed while it streams it.
    platform_execute(
        "INSERT INTO api_requests (account_id, model_id, prompt_tokens, completion_tokens, cost, ip_address, "
        "user_agent, status_code, created_at) SELECT %s, 'openai/gpt-4o-mini', g %% 900, g %% 300, 0.001, "
        "'198.51.100.' || (g %% 200), 'sdk/1.' || (g %% 9), 200, now() - (g || ' minutes')::interval "
        "FROM generate_series(1, 150000) g",
        [account_id],
    )
    request = open_request(platform.subject, ["access"])
    fulfilment_start(request=request, actor=officer)  # queued for the worker on commit

    first = worker()
    try:
        wait_for(
            lambda: (
                (keys := _step(request, "export", "api_keys")) is not None
                and keys.status == "done"
                and _step(request, "export", "api_requests").status != "done"
            )
        )
    finally:
        kill(first)
    interrupted = _step(request, "export", "api_requests")
    assert interrupted.status == "running" and not interrupted.evidence
    assert ExportBundle.objects.get(request=request).status == "building"

    second = worker()
    resume_after_the_lease()  # no redelivery for an hour: the stall job hands the export to the new worker
    bundle = wait_for(lambda: ExportBundle.objects.filter(request=request, status="ready").first())
    kill(second)
    assert _step(request, "export", "api_requests").attempts == 2
    assert _step(request, "export", "accounts").attempts == 1  # done before the kill, not exported again
    with bundle_storage().open(bundle.file_name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert archive.testzip() is None
    exported = next(t for t in bundle.manifest["tables"] if t["table"] == "api_requests")["rows"]
    assert len(archive.read("studio-platform/api_requests.jsonl").splitlines()) == exported > 150_000

    _eager(True)
    reference = open_request(platform.subject, ["access"])
    fulfilment_start(request=reference, actor=officer)
    uninterrupted = ExportBundle.objects.get(request=reference)
    assert uninterrupted.status == "ready"
    assert _data_files(bundle) == _data_files(uninterrupted)
    assert bundle.rows_total == uninterrupted.rows_total > 150_000


def _outcome(request) -> dict[str, tuple]:
    return {
        step.table.table_name: (step.status, step.action, step.rows_deleted, step.rows_masked, step.rows_kept)
        for step in FulfilmentStep.objects.filter(request=request, kind="erase").select_related("table")
    }


def test_an_erasure_killed_in_the_middle_of_a_table_resumes_to_the_same_end_state(
    platform, vendors, open_request, officer, worker
):
    account_id = int(platform.subject.account_ref)
    before = platform_state()
    _eager(True)
    request = open_request(platform.subject, ["erasure"])
    fulfilment_start(request=request, actor=officer)  # locate and plan in this process
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    _eager(False)

    # Another session holds one of the subject's API request rows, so the worker blocks inside that table's step.
    blocker = psycopg.connect(url_for("platform"))
    blocker.execute("SELECT id FROM api_requests WHERE account_id = %s ORDER BY id LIMIT 1 FOR UPDATE", [account_id])
    plan_approve(plan=plan, actor=officer)  # queued for the worker on commit
    first = worker()
    try:
        wait_for(lambda: (step := _step(request, "erase", "api_requests")) is not None and step.status == "running")
        time.sleep(0.5)  # the worker's UPDATE is now waiting on the row lock
    finally:
        kill(first)
        blocker.rollback()
        blocker.close()
    assert _step(request, "erase", "prompts").status == "done"
    assert _step(request, "erase", "accounts").status == "pending"  # the parent waits for its children
    assert FulfilmentPlan.objects.get(pk=plan.pk).status == "approved"

    second = worker()
    resumed = resume_after_the_lease()
    wait_for(lambda: FulfilmentPlan.objects.get(pk=plan.pk).status == "completed")
    wait_for(lambda: request.recipient_notices.count() == 2 and not request.recipient_notices.filter(status="pending"))
    kill(second)
    killed_state, killed_outcome = platform_state(), _outcome(request)
    killed_ledger = ErasureLedgerEntry.objects.get(request_reference=request.reference).plan
    assert _step(request, "erase", "api_requests").attempts == 2
    # One job per step, plus the real retry of the step the killed worker held.
    erase_steps = FulfilmentStep.objects.filter(request=request, kind="erase").count()
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task").count() <= erase_steps + resumed

    platform_restore(before)
    _eager(True)
    reference = open_request(platform.subject, ["erasure"])
    fulfilment_start(request=reference, actor=officer)
    plan_approve(plan=FulfilmentPlan.objects.get(request=reference, kind="erasure"), actor=officer)
    assert FulfilmentPlan.objects.get(request=reference, kind="erasure").status == "completed"
    assert platform_state() == killed_state
    assert _outcome(reference) == killed_outcome
    assert ErasureLedgerEntry.objects.get(request_reference=reference.reference).plan == killed_ledger
    assert request.recipient_notices.count() == reference.recipient_notices.count() == 2


def _waiting_on_a_lock(table: str) -> bool:
    """Whether a session of the test database waits on a row lock of ``table`` (the worker, blocked)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_between_a_bundles_completion_and_the_plans_bookkeeping_leaves_nothing_half_done(
    platform, open_request, officer, worker
):
    request = open_request(platform.subject, ["access"])
    fulfilment_start(request=request, actor=officer)
    for step in FulfilmentStep.objects.filter(request=request, kind="locate"):
        locate_step_run(step_id=step.pk)  # located and planned here; the exports are queued for the worker
    plan = FulfilmentPlan.objects.get(request=request, kind="export")

    # Another session holds the plan's row, so the worker stops inside the bundle's last transaction: the
    # bundle is built and marked ready there, the plan's bookkeeping waits. Then the worker is killed.
    blocker = psycopg.connect(url_for("default"))
    blocker.execute("SELECT id FROM fulfilment_fulfilmentplan WHERE id = %s FOR UPDATE", [plan.pk])
    first = worker()
    try:
        wait_for(lambda: _waiting_on_a_lock("fulfilment_fulfilmentplan"), timeout=60)
    finally:
        kill(first)
        blocker.rollback()
        blocker.close()
    wait_for(lambda: not _waiting_on_a_lock("fulfilment_fulfilmentplan"), timeout=30)
    # Everything or nothing: the bundle's completion rolled back with the plan's bookkeeping.
    bundle = ExportBundle.objects.get(request=request)
    assert bundle.status == "building" and not DownloadLink.objects.filter(bundle=bundle).exists()
    assert FulfilmentPlan.objects.get(pk=plan.pk).status == "approved"
    assert all(step.status == "done" for step in bundle.steps.all())

    second = worker()
    resume_after_the_lease()  # "every table exported, not assembled": the assembly is queued again
    wait_for(lambda: FulfilmentPlan.objects.get(pk=plan.pk).status == "completed", timeout=60)
    kill(second)
    bundle.refresh_from_db()
    assert bundle.status == "ready" and ExportBundle.objects.filter(request=request).count() == 1
    assert DownloadLink.objects.filter(bundle=bundle).count() == 1
    assert request.lines.get().status == "completed"
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.bundle_assemble_task").count() == 2


@pytest.fixture
def redis_server():
    server = RedisServer(free_port())  # this test's own Redis, without persistence, as a default install
    server.start()
    yield server
    server.stop()


def test_a_redis_restart_that_loses_the_jobs_is_recovered_by_the_stall_job(
    platform, open_request, officer, worker, redis_server
):
    _eager(True)
    request = open_request(platform.subject, ["erasure"])
    fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    _eager(False)
    account_id = int(platform.subject.account_ref)
    with broker(redis_server.url):
        blocker = psycopg.connect(url_for("platform"))
        blocker.execute(
            "SELECT id FROM api_requests WHERE account_id = %s ORDER BY id LIMIT 1 FOR UPDATE", [account_id]
        )
        plan_approve(plan=plan, actor=officer)
        first = worker(broker_url=redis_server.url)
        try:
            wait_for(lambda: (step := _step(request, "erase", "api_requests")) is not None and step.status == "running")
            # Redis restarts without persistence: the job the worker holds (unacknowledged) is gone with it.
            redis_server.stop()
            redis_server.start()
        finally:
            kill(first)  # and the worker that held it is lost too
            blocker.rollback()
            blocker.close()
        with celery_app.connection_for_write(url=redis_server.url) as connection:
            client = connection.default_channel.client
            assert client.llen("celery") == 0 and client.hlen("unacked") == 0  # nothing left to redeliver
        assert FulfilmentPlan.objects.get(pk=plan.pk).status == "approved"

        second = worker(broker_url=redis_server.url)
        resume_after_the_lease()
        wait_for(lambda: FulfilmentPlan.objects.get(pk=plan.pk).status == "completed", timeout=60)
        kill(second)
    assert request.lines.get().status == "completed"
    assert ErasureLedgerEntry.objects.filter(request_reference=request.reference).count() == 1
    assert all(step.status == "done" for step in FulfilmentStep.objects.filter(plan=plan))
