"""Project-wide checks: migrations in step, production settings, configuration errors."""

import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret",
    "COMPLIANCE_HMAC_KEY": "y" * 48,
    "DJANGO_ALLOWED_HOSTS": "compliance.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/studio_backoffice",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
}


def manage_env() -> dict[str, str]:
    """This process's environment without the variables the test settings set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "EMAIL_"))}


def manage(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**manage_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(databases=["default", "platform"])
def test_models_and_migrations_are_in_step():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_production_settings_pass_the_deploy_check(tmp_path):
    """Production as the README describes it, with a Redis broker that keeps its jobs (append-only file): no
    warning at all. The machine's shared Redis keeps nothing on disk, so the test runs a Redis of its own."""
    from tests.support.processes import RedisServer, free_port

    redis = RedisServer(free_port(), "--appendonly", "yes", "--dir", str(tmp_path))
    redis.start()
    try:
        result = manage(
            "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "CELERY_BROKER_URL": redis.url}
        )
    finally:
        redis.stop()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DJANGO_SECRET_KEY", "", "DJANGO_SECRET_KEY must be set"),
        ("DATABASE_URL", "mysql://nope", "DATABASE_URL must be a postgres:// or sqlite:/// URL"),
        ("CELERY_BROKER_URL", "kafka://x", "CELERY_BROKER_URL must be a redis://"),
        ("SESSION_IDLE_TIMEOUT_SECONDS", "soon", "SESSION_IDLE_TIMEOUT_SECONDS must be an integer"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be true or false"),
        ("CELERY_BROKER_URL", "memory://", "CELERY_BROKER_URL=memory:// is for the test settings only"),
    ],
)
def test_bad_environment_fails_at_start_up_with_one_line_naming_the_variable(variable, value, message):
    result = manage("check", env={**PRODUCTION_ENV, variable: value})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr


def test_the_back_office_runs_without_the_sample_platform_and_refuses_a_memory_broker(tmp_path):
    local = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path}/backoffice.sqlite3",  # four slashes: an absolute path
        "PLATFORM_DATABASE_URL": "",
    }
    result = manage(
        "shell", "--no-imports", "-c", "from django.db import connections; print(sorted(connections))", env=local
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['default']"
    assert manage("check", env=local).returncode == 0

    refused = manage("check", env={**local, "CELERY_BROKER_URL": "memory://"})
    assert refused.returncode == 2
    assert "memory:// is for the test settings only" in refused.stderr


def test_sqlite_urls_with_three_slashes_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    from config.env import database_from_env

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOME_DATABASE_URL", "sqlite:///var/crm.sqlite3")
    assert database_from_env("SOME_DATABASE_URL", "")["NAME"] == "var/crm.sqlite3"
    assert (tmp_path / "var").is_dir()
    monkeypatch.setenv("SOME_DATABASE_URL", f"sqlite:///{tmp_path}/abs/crm.sqlite3")
    assert database_from_env("SOME_DATABASE_URL", "")["NAME"] == f"{tmp_path}/abs/crm.sqlite3"


def test_setup_commands_run_twice_change_nothing(db, baseline):
    first = StringIO()
    call_command("setup_periodic_tasks", stdout=first)
    second = StringIO()
    call_command("setup_periodic_tasks", stdout=second)
    assert "created: Worker heartbeat" in first.getvalue()
    assert "created" not in second.getvalue()
    assert "unchanged: Worker heartbeat" in second.getvalue()


PROXY_PROBE = (
    "import django; django.setup()\n"
    "from django.conf import settings\n"
    "from django.test import Client\n"
    "response = Client().get('/', HTTP_X_FORWARDED_PROTO='https', HTTP_HOST='compliance.example.com')\n"
    "print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), response.status_code, response.get('Location'))\n"
)


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [
        # No trusted proxy: a client's own X-Forwarded-Proto is ignored, plain HTTP is sent to HTTPS.
        ("0", "None 301 https://compliance.example.com/"),
        # Behind one trusted proxy: the proxy's header says the request came over HTTPS.
        ("1", "('HTTP_X_FORWARDED_PROTO', 'https') 302 /admin/"),
    ],
)
def test_production_trusts_x_forwarded_proto_only_behind_a_trusted_proxy(proxies, expected):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
    result = subprocess.run(
        [sys.executable, "-c", PROXY_PROBE],
        cwd=settings.BASE_DIR,
        env={**clean, **PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": proxies},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_production_refuses_a_cache_other_processes_cannot_share():
    result = manage("check", env={**PRODUCTION_ENV, "CACHE_URL": "locmem://"})
    assert result.returncode == 2
    assert "CACHE_URL must be a redis:// URL in production" in result.stderr
    assert manage("check", env={**PRODUCTION_ENV, "CACHE_URL": "redis://127.0.0.1:6379/15"}).returncode == 0


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative-to-project"])
def test_filemail_urls_put_mail_in_the_folder_they_name(tmp_path, relative):
    """``filemail:///abs/path`` is that absolute folder and ``filemail://var/...`` is under the project
    folder (django-environ read the first as relative to the working directory and the second as a host),
    whatever folder the process starts in."""
    if relative:
        name = f"var/test-mail-{tmp_path.name}"
        folder = Path(settings.BASE_DIR) / name
        url = f"filemail://{name}"
    else:
        folder = tmp_path / "var" / "mail"
        url = f"filemail://{folder}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        result = subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "sendtestemail", "someone@example.com"],
            cwd=elsewhere,
            env={**manage_env(), **PRODUCTION_ENV, "EMAIL_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        letters = list(folder.glob("*.log"))
        assert len(letters) == 1 and "someone@example.com" in letters[0].read_text()
        assert not any(elsewhere.rglob("*.log")), "mail landed under the working directory"
    finally:
        if relative:
            shutil.rmtree(folder, ignore_errors=True)


def test_the_demo_worker_polls_the_filesystem_broker_ten_times_a_second(tmp_path):
    """kombu's filesystem transport waited a second between polls when its queue was empty: the demo's
    worker started 2 jobs a second. The demo's settings make a consumer poll every 0.1 s."""
    script = (
        "import django; django.setup()\n"
        "from config.celery_app import app\n"
        "with app.connection_for_read() as conn:\n"
        "    print(type(conn.transport).__module__, conn.transport.polling_interval)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={**manage_env(), "DJANGO_SETTINGS_MODULE": "config.settings.local", "CELERY_BROKER_URL": "filesystem://"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    module, interval = result.stdout.split()
    assert module == "kombu.transport.filesystem"
    assert float(interval) <= 0.1


def test_letters_written_to_files_are_readable_by_their_owner_only(tmp_path):
    """Django's file backend wrote letters (an address, often a name) 0644 in a 0755 folder under the usual
    umask: every account on the machine could read them. The folder is 0700 (an older one is tightened)
    and each file 0600, as the private storage writes bundles."""
    import stat

    new_folder = tmp_path / "var" / "mail"
    old_folder = tmp_path / "old-mail"
    old_folder.mkdir()
    old_folder.chmod(0o755)  # made by an earlier version
    for folder in (new_folder, old_folder):
        result = subprocess.run(
            [sys.executable, "manage.py", "sendtestemail", "someone@example.com"],
            cwd=settings.BASE_DIR,
            env={**manage_env(), **PRODUCTION_ENV, "EMAIL_URL": f"filemail://{folder}"},
            capture_output=True,
            text=True,
            timeout=120,
            umask=0o022,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        letters = list(folder.glob("*.log"))
        assert len(letters) == 1 and "someone@example.com" in letters[0].read_text()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, oct(folder.stat().st_mode)
        assert stat.S_IMODE(letters[0].stat().st_mode) == 0o600, oct(letters[0].stat().st_mode)
    assert stat.S_IMODE(new_folder.parent.stat().st_mode) == 0o755  # only the mail folder itself is private
