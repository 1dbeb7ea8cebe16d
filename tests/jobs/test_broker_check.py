"""``manage.py check --deploy`` warns when the broker is a Redis that forgets its jobs on a restart.

Each case runs against a redis-server of the test's own (never the machine's shared Redis).
"""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.support.processes import RedisServer, free_port


@pytest.fixture
def redis_server():
    servers = []

    def start(*options: str) -> RedisServer:
        server = RedisServer(free_port(), *options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _deploy_check(capsys) -> str:
    try:
        call_command("check", "--deploy", "--fail-level", "CRITICAL")
    except SystemCheckError as error:  # pragma: no cover - only CRITICAL fails
        return str(error)
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_a_redis_broker_without_persistence_is_flagged(redis_server, settings, capsys):
    settings.CELERY_BROKER_URL = redis_server().url
    output = _deploy_check(capsys)
    assert "jobs.W001" in output and "appendonly yes" in output


def test_a_redis_broker_with_append_only_persistence_passes(redis_server, settings, capsys, tmp_path):
    settings.CELERY_BROKER_URL = redis_server("--appendonly", "yes", "--dir", str(tmp_path)).url
    output = _deploy_check(capsys)
    assert "jobs.W001" not in output
    assert "security.W" in output or "System check identified" in output  # the check ran and reported


def test_a_broker_that_refuses_config_is_not_flagged(redis_server, settings, capsys):
    settings.CELERY_BROKER_URL = redis_server("--rename-command", "CONFIG", "").url
    output = _deploy_check(capsys)
    assert "jobs.W001" not in output


def test_the_filesystem_broker_of_the_demo_is_not_a_redis(settings, capsys):
    settings.CELERY_BROKER_URL = "filesystem://"
    assert "jobs.W001" not in _deploy_check(capsys)
