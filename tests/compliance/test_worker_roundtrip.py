"""The loop works with real processes: a message through Redis, a worker, a row in PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from compliance.models import WorkerHeartbeat
from compliance.tasks import worker_heartbeat_task


def start_worker(queue: str) -> subprocess.Popen:
    """A real Celery worker on the test database, listening on a queue of its own."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _url_for(connection.settings_dict),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    return subprocess.Popen(
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
            queue,
            "--hostname",
            f"test-{queue}@%h",
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


def _url_for(db: dict) -> str:
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll a real process's effect (not a clock freeze: the worker is a separate process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_heartbeat_goes_through_redis_to_a_real_worker_and_shows_in_admin(admin_client):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = start_worker(queue)
    try:
        worker_heartbeat_task.apply_async(queue=queue)
        beat = wait_for(lambda: WorkerHeartbeat.objects.filter(worker__startswith=f"test-{queue}@").first())
    finally:
        stop_worker(worker)
    assert beat.beats == 1
    page = admin_client.get(reverse("admin:index"))
    assert b"Workers are running" in page.content
    assert beat.worker.encode() in page.content
