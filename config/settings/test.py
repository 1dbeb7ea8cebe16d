"""Tests: real PostgreSQL and Redis, as production runs."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studio_backoffice")
os.environ.setdefault("PLATFORM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studio_platform")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("EMAIL_URL", "memorymail://")

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import VAR_DIR  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "test-private")},
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
