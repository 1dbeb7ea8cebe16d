"""Fixtures every test module may use (a pytest plugin: ``tests/conftest.py`` registers it).

Jobs: ``eager_tasks`` runs what the outbox sends in this process; ``workers`` starts real Celery
workers and stops every one a test started. Files: ``private_storage`` points the ``private`` storage
(bundles, letters) at the test's own folder.
"""

from __future__ import annotations

import subprocess

import pytest
from django.core.files.storage import storages

from config.celery_app import app as celery_app
from tests.support.processes import purge_default_queue, start_worker, stop_process


@pytest.fixture
def eager_tasks():
    """Tasks run in-process when the outbox sends them (Celery's eager mode), so on-commit work
    happens inside the test and its errors propagate."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def workers():
    """Start real workers: ``workers(name, **start_worker options)``. The default queue is emptied
    first (nothing left from earlier tests); every worker still running is stopped afterwards."""
    purge_default_queue()
    started: list[subprocess.Popen] = []

    def start(name: str = "worker", **options) -> subprocess.Popen:
        process = start_worker(name, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def private_storage(settings, tmp_path):
    """The ``private`` storage (bundles, letters) in this test's own folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    storages._storages.pop("private", None)
    yield tmp_path
    storages._storages.pop("private", None)
