"""Concurrent first requests for the OpenAPI schema, in a fresh process (the race is in the first build)."""

import os
import subprocess
import sys

from django.conf import settings

from tests.support.processes import url_for

CLIENTS = 12
RACE = f"""
import threading
import django
django.setup()
from django.test import Client
statuses, barrier = [], threading.Barrier({CLIENTS})
def fetch():
    client = Client()
    barrier.wait()
    statuses.append(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").status_code)
threads = [threading.Thread(target=fetch) for _ in range({CLIENTS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(statuses))
"""


def test_concurrent_first_requests_for_the_schema_all_answer_200(db):
    """drf-spectacular's first build is not thread-safe: without the view's lock some of these were 500."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url_for("default"),
        "PLATFORM_DATABASE_URL": url_for("platform"),
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", RACE],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str([200] * CLIENTS)
