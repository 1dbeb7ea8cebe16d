"""Tests: real PostgreSQL and Redis, as production runs."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studio_backoffice")
os.environ.setdefault("PLATFORM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studio_platform")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


def _broker_of_this_test_worker() -> None:
    """Under pytest-xdist each test process gets its own Redis database (15, 14, ...), as pytest-django
    gives it its own PostgreSQL databases, so a real worker started by one test never takes another's jobs.
    The Celery workers a test starts inherit the result and do not shift it again."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("TEST_BROKER_WORKER") == worker:
        return
    from urllib.parse import urlsplit, urlunsplit

    url = urlsplit(os.environ["CELERY_BROKER_URL"])
    if url.scheme not in {"redis", "rediss"}:
        return
    base = int(url.path.strip("/") or 0)
    database = (base - int(worker[2:])) % 16
    os.environ["CELERY_BROKER_URL"] = urlunsplit(url._replace(path=f"/{database}"))
    os.environ["TEST_BROKER_WORKER"] = worker


_broker_of_this_test_worker()
os.environ.setdefault("EMAIL_URL", "memorymail://")
# The cache lives in the broker's Redis database (as in production) under a prefix of this test process:
# parallel runs sharing a Redis database never count each other's requests or clear each other's keys.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{os.getpid()}")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import VAR_DIR  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "test-private"), **PRIVATE_FILE_PERMISSIONS},  # noqa: F405
    },
}
# Tests of other apps log in with force_login/login(); tests/security turns both
# protections on and drives the real login, second factor and lockout flows.
ADMIN_2FA_REQUIRED = False
AXES_ENABLED = False
# The SQLite path of the SQL connector: tests create the sample platform's tables
# on this in-memory database (migrations never run on it) and map it as a system.
DATABASES["platform_sqlite"] = {  # noqa: F405
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    "TEST": {"NAME": ":memory:"},
}
