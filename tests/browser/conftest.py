"""Real-browser flows: Debian's Chromium driven by Playwright against pytest-django's live server.

The browser is the system's /usr/bin/chromium (``.ci/run`` installs the ``chromium`` package when it is
missing); Playwright never downloads one. Every step is saved as a screenshot under
``test-artifacts/browser/<test>/``. The second factor and the login lockout are on, as in production:
staff type their password, then the code their authenticator would show.

Jobs run eagerly: when a page's transaction commits, the outbox hands each job to Celery, which runs it
in the live server's thread, so the page after a button shows what the worker did.
"""

from __future__ import annotations

import importlib
import os
import re
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


@pytest.fixture
def jobs_run_eagerly(eager_tasks):
    """The outbox's jobs run in the live server's thread (``eager_tasks`` of tests/support)."""


@pytest.fixture
def adequacy_list(db):
    """The adequacy list a data migration loads (a transactional test's flush empties it)."""
    from django.apps import apps

    from subprocessors.models import AdequacyDecision

    if not AdequacyDecision.objects.exists():
        importlib.import_module("subprocessors.migrations.0002_adequacy_list").load(apps, None)
