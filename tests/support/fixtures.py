"""Fixtures every test module may use (a pytest plugin: ``tests/conftest.py`` registers it).

Requests: ``refused_request`` (a US requester's request answered with a refusal, ready to appeal).
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


@pytest.fixture
def refused_request(baseline, agent, officer):
    """A US requester's request, answered with a refusal: ``refused_request(region="VA", rights=[...])``.

    The lines in ``refuse`` (all by default) are refused, the others fulfilled; the refusal letter is sent.
    """
    from requests_app.models import IdentityMethod, IdentityOutcome, LetterTemplate
    from requests_app.services import (
        communication_send,
        request_line_complete,
        rights_request_identity_record,
        rights_request_open,
    )

    def make(region="VA", rights=("erasure",), refuse=None, email="vera.hill@example.com", **extra):
        request = rights_request_open(
            requester_name="Vera Hill",
            requester_email=email,
            requester_country="US",
            requester_region=region,
            rights=list(rights),
            actor=agent,
            **extra,
        )
        rights_request_identity_record(
            request=request, method=IdentityMethod.ACCOUNT_LOGIN, outcome=IdentityOutcome.VERIFIED, actor=officer
        )
        for line in request.lines.select_related("right"):
            refused = refuse is None or line.right.slug in refuse
            request_line_complete(
                line=line,
                outcome="refused" if refused else "fulfilled",
                reason="Kept while a fraud investigation on the account is open." if refused else "",
                actor=officer,
            )
        communication_send(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL, actor=officer)
        request.refresh_from_db()
        return request

    return make
