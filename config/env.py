"""The one place the environment is read.

Every variable the back office understands is read here (or in the settings
modules through the ``env`` object below) and listed in the README's
configuration table. A missing or malformed value raises ``ImproperlyConfigured``
with a one-line message naming the variable; ``manage.py``, the WSGI entry point
and the Celery app turn that into a single line on stderr.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

_DB_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis", "sqlite"}


def database_from_env(variable: str, default: str) -> dict[str, Any]:
    """Parse a database URL variable, refusing anything but PostgreSQL or SQLite."""
    raw = env.str(variable, default=default)
    scheme = raw.split(":", 1)[0].lower()
    if scheme not in _DB_SCHEMES or "://" not in raw:
        raise ImproperlyConfigured(f"{variable} must be a postgres:// or sqlite:/// URL (got scheme {scheme!r})")
    try:
        config = env.db_url_config(raw)
    except Exception as exc:  # environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{variable} is not a valid database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config["NAME"]
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {
            # Web, worker and beat share the file: WAL lets readers go on while one
            # process writes, IMMEDIATE takes the write lock up front so two writers
            # queue on the busy timeout instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    else:
        config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        config["CONN_HEALTH_CHECKS"] = True
    return config


def int_from_env(variable: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    """Read an integer variable, naming it when the value is not a number, too small or too large."""
    try:
        value = env.int(variable, default=default)
    except ValueError:
        raise ImproperlyConfigured(f"{variable} must be an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{variable} must be at least {minimum}")
    if maximum is not None and value > maximum:
        bounds = f"between {minimum} and {maximum}" if minimum is not None else f"at most {maximum}"
        raise ImproperlyConfigured(f"{variable} must be {bounds}")
    return value


def seconds_from_env(variable: str, default: float) -> float:
    """A number of seconds, fractions allowed."""
    try:
        return env.float(variable, default=default)
    except ValueError:
        raise ImproperlyConfigured(f"{variable} must be a number of seconds") from None


def days_from_env(variable: str, default: list[int]) -> list[int]:
    """Comma-separated numbers of days (``60,30``), at least one, each at least 1."""
    try:
        days = [int(d) for d in list_from_env(variable, [str(d) for d in default])]
    except ValueError:
        raise ImproperlyConfigured(f"{variable} must be comma-separated whole numbers") from None
    if not days or min(days) < 1:
        raise ImproperlyConfigured(f"{variable} must list at least one number of days, each at least 1")
    return days


def month_day_from_env(variable: str, default: str) -> tuple[int, int]:
    """A day of the year as ``MM-DD`` (one every year has: not 02-29), as ``(month, day)``."""
    raw = env.str(variable, default=default)
    try:
        month, day = (int(part) for part in raw.split("-"))
        date(2001, month, day)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{variable} must be MM-DD, e.g. 03-31") from None
    return month, day


def row_limits_from_env(variable: str) -> dict[str, int]:
    """Per-regime row limits, ``ccpa:50,vcdpa:50`` (empty: none), each 0 or more."""
    try:
        limits = {
            code.strip(): int(rows) for code, rows in (item.split(":", 1) for item in list_from_env(variable, []))
        }
    except ValueError:
        raise ImproperlyConfigured(f"{variable} must look like ccpa:50,vcdpa:50") from None
    if any(rows < 0 for rows in limits.values()):
        raise ImproperlyConfigured(f"{variable} row limits must be 0 or more")
    return limits


def bool_from_env(variable: str, default: bool) -> bool:
    raw = env.str(variable, default="")
    if raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{variable} must be true or false (got {raw!r})")


def list_from_env(variable: str, default: list[str]) -> list[str]:
    raw = env.str(variable, default="")
    if not raw.strip():
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def email_from_env(variable: str, default: str) -> dict[str, Any]:
    """Parse an email URL variable. ``filemail://`` is read as a path, not a host: django-environ takes
    ``filemail:///srv/mail`` as the relative ``srv/mail`` and ``filemail://var/mail`` as host ``var``
    with path ``mail``; here ``filemail:///srv/mail`` is absolute and ``filemail://var/mail`` is
    relative to the project folder, wherever the process was started."""
    raw = env.str(variable, default=default)
    if raw.lower().startswith("filemail://"):
        path = raw[len("filemail://") :].split("?", 1)[0]
        if not path.strip("/"):
            raise ImproperlyConfigured(f"{variable} is not a valid email URL: filemail:// needs a folder")
        folder = Path(path) if path.startswith("/") else BASE_DIR / path
        # Letters carry personal data: the folder is 0700 and each file 0600 (config.mail).
        return {"EMAIL_BACKEND": "config.mail.PrivateFileEmailBackend", "EMAIL_FILE_PATH": str(folder)}
    try:
        return env.email_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(f"{variable} is not a valid email URL: {exc}") from None


def broker_from_env(variable: str, default: str) -> str:
    raw = env.str(variable, default=default)
    scheme = raw.split(":", 1)[0].lower()
    if scheme not in {"redis", "rediss", "filesystem", "amqp", "memory"}:
        raise ImproperlyConfigured(
            f"{variable} must be a redis://, amqp:// or filesystem:// URL (got scheme {scheme!r})"
        )
    return raw


def refuse_memory_broker(variable: str, url: str) -> None:
    """``memory://`` keeps messages inside one process: the worker never sees a job the web process sent,
    so jobs marked sent never run. The test settings may use it; every other settings module calls this."""
    if url.split(":", 1)[0].lower() == "memory":
        raise ImproperlyConfigured(
            f"{variable}=memory:// is for the test settings only: jobs sent through it never reach a worker. "
            "Use a redis://, amqp:// or filesystem:// URL."
        )


def cache_from_env(variable: str, default: str, *, key_prefix: str) -> dict[str, Any]:
    """The default cache from a URL: ``redis://`` or ``rediss://`` (shared by every process and machine),
    ``file:///path`` (shared by the processes of one machine) or ``locmem://`` (one process)."""
    raw = env.str(variable, default=default)
    scheme = raw.split(":", 1)[0].lower()
    if scheme in {"redis", "rediss"}:
        return {"BACKEND": "config.cache.SharedRedisCache", "LOCATION": raw, "KEY_PREFIX": key_prefix}
    if scheme == "file" and raw.startswith("file:///"):
        return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": raw[len("file://") :]}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(f"{variable} must be a redis://, file:/// or locmem:// URL (got scheme {scheme!r})")


def rate_from_env(variable: str, default: str) -> str:
    """A request rate as DRF's throttles read it: ``<number>/<second|minute|hour|day>``, the number at least 1."""
    raw = env.str(variable, default=default).strip()
    number, _, period = raw.partition("/")
    if not number.isdigit() or int(number) < 1 or period not in {"second", "minute", "hour", "day"}:
        raise ImproperlyConfigured(f"{variable} must look like 600/minute (a number per second, minute, hour or day)")
    return raw


def required(variable: str) -> str:
    """A production secret: no default, a clear one-line error when unset or empty."""
    value = env.str(variable, default="")
    if not value:
        raise ImproperlyConfigured(f"{variable} must be set (it has no default in production)")
    return value
