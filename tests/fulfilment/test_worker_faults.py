"""A real worker process SIGKILLed in the middle of an export and of an erasure, then restarted,
finishes with the same end state as an uninterrupted run.

The worker is a real Celery process on the test databases and Redis. Messages are
acknowledged late, so the one the killed worker held comes back (after the short
visibility timeout these tests set) to the restarted worker, which must skip what
is done and finish the rest.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.db import connections

from config.celery_app import app as celery_app
from fulfilment.models import ErasureLedgerEntry, ExportBundle, FulfilmentPlan, FulfilmentStep
from fulfilment.services import fulfilment_start, plan_approve
from fulfilment.services.common import bundle_storage
from tests.fulfilment.conftest import platform_execute, platform_restore, platform_state

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


def _url(alias: str) -> str:
    db = connections[alias].settings_dict
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db.get('USER') or 'postgres'}@{host}:{port}/{db['NAME']}"


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


@pytest.fixture
def worker(bundles_dir):
    """Start real workers on the test databases; every one still running is stopped afterwards."""
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")  # nothing left over from earlier runs
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _url("default"),
            "PLATFORM_DATABASE_URL": _url("platform"),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_VISIBILITY_TIMEOUT": "2",
            "EXPORT_BUNDLE_STORAGE": "default",
            "DJANGO_MEDIA_ROOT": str(bundles_dir),
            "EXPORT_BUNDLE_TEMP_DIR": str(bundles_dir.parent),
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--queues",
                "celery",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(predicate, *, timeout: float = 180.0, interval: float = 0.02):
    """Poll another process's effect in the database (not a clock freeze: the worker is a separate process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


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
    blocker = psycopg.connect(_url("platform"))
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
    wait_for(lambda: FulfilmentPlan.objects.get(pk=plan.pk).status == "completed")
    wait_for(lambda: request.recipient_notices.count() == 2 and not request.recipient_notices.filter(status="pending"))
    kill(second)
    killed_state, killed_outcome = platform_state(), _outcome(request)
    killed_ledger = ErasureLedgerEntry.objects.get(request_reference=request.reference).plan
    assert _step(request, "erase", "api_requests").attempts == 2

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
