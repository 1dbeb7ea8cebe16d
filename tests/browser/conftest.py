"""Real-browser flows: Debian's Chromium driven by Playwright against pytest-django's live server.

The browser is the system's /usr/bin/chromium (``.ci/run`` installs the ``chromium`` package when it is
missing); Playwright never downloads one. Every step is saved as a screenshot under
``test-artifacts/browser/<test>/``. The second factor and the login lockout are on, as in production:
staff type their password, then the code their authenticator would show.

The journeys run their jobs on a real Celery worker (``worker``: one process per test module, on the
test databases and this test process's Redis database), as the demo does: when a page's transaction
commits, the outbox hands each job to the broker and the worker takes it. The live server and the worker
share the database, so those tests are transactional; they wait for the worker's effect by polling the
database or reloading the page until a deadline (``eventually``), never by sleeping a fixed time.
Email goes through the file backend into a folder of the module (``mail_folder``), which the worker
reads from ``EMAIL_URL=filemail:///<folder>`` as the demo would.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while the browser is open, and
    # Django then refuses ORM calls from it; the tests' own ORM calls are plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(ARTIFACTS / request.node.name)


@pytest.fixture
def new_page(chromium, live_server):
    """A page in a fresh browser context (its own cookies), opening URLs relative to the live server."""
    contexts = []

    def make():
        context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def protections_on(settings):
    settings.ADMIN_2FA_REQUIRED = True
    settings.SUPPORT_AGENT_2FA_REQUIRED = True
    settings.AXES_ENABLED = True
    return settings


@dataclass
class Worker:
    mail: Path
    private: Path


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker for the tests of one module: started once (its start-up is paid once per
    module), on the test databases, sending email into ``mail`` and writing bundles into ``private``."""
    from tests.support.processes import purge_default_queue, start_worker, stop_process

    mail = tmp_path_factory.mktemp("mail")
    private = tmp_path_factory.mktemp("private")
    with django_db_blocker.unblock():
        purge_default_queue()  # messages an interrupted earlier run left on this Redis database
        process = start_worker(
            "journeys",
            DJANGO_SETTINGS_MODULE="tests.browser.worker_settings",
            EMAIL_URL=f"filemail://{mail}",
            TEST_PRIVATE_STORAGE=str(private),
        )
    try:
        yield Worker(mail=mail, private=private)
    finally:
        stop_process(process)


@pytest.fixture
def mail_folder(worker, settings) -> Path:
    """The folder the file backend writes email into, for the live server and the worker alike (emptied
    for each test)."""
    for old in worker.mail.iterdir():
        old.unlink()
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(worker.mail)
    return worker.mail


@pytest.fixture
def private_storage(worker, settings) -> Path:
    """Bundles in the worker's private folder, which the live server serves the download from."""
    from django.core.files.storage import storages

    for old in worker.private.iterdir():
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(worker.private)},
        },
    }
    storages._storages.pop("private", None)
    yield worker.private
    storages._storages.pop("private", None)


def eventually(check, *, timeout: float = 60.0, what: str = "the worker's effect"):
    """Poll ``check`` (a database read or a page reload) until it returns something true, or fail after
    ``timeout`` seconds saying what did not happen."""
    from tests.support.processes import wait_for

    try:
        return wait_for(check, timeout=timeout, interval=0.1)
    except AssertionError:
        raise AssertionError(f"{what}: not seen within {timeout:.0f} s") from None


@pytest.fixture
def adequacy_list(db):
    """The adequacy list a data migration loads (a transactional test's flush empties it)."""
    from django.apps import apps

    from subprocessors.models import AdequacyDecision

    if not AdequacyDecision.objects.exists():
        importlib.import_module("subprocessors.migrations.0002_adequacy_list").load(apps, None)
