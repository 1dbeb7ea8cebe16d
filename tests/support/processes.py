"""Real processes for worker and fault tests: Celery workers on the test databases, a Redis server of our own.

Every process is started in its own session and stopped by its own id (``stop_process``, or the
``workers`` fixture of ``tests.support.fixtures``, which stops whatever a test started).
Waiting polls another process's effect (there is no clock to freeze there).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import kombu.pools
from django.conf import settings
from django.db import connections

from config.celery_app import app as celery_app


def url_for(alias: str, **query: str) -> str:
    """The URL of a test database, for a worker subprocess (optionally with libpq options)."""
    db = connections[alias].settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    url = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def start_worker(
    name: str, *, broker_url: str | None = None, queues: str | None = None, **env: str
) -> subprocess.Popen:
    """A real Celery worker (solo pool) on the test databases and this run's broker.

    ``queues`` limits what it consumes (default: the ``celery`` queue); ``env`` adds or overrides
    environment variables of the worker (a lease, a visibility timeout, a storage folder...).
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url_for("default"),
        "PLATFORM_DATABASE_URL": url_for("platform"),
        "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--hostname",
        f"{name}@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    if queues:
        command += ["--queues", queues]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment, start_new_session=True)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def purge_default_queue(*, unacked: bool = False) -> None:
    """Empty this run's ``celery`` queue (and, with ``unacked``, the messages killed workers held)."""
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
        if unacked:
            connection.default_channel.client.delete("unacked", "unacked_index")


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.05):
    """Poll a real process's effect until ``predicate`` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server process of this test only (never the machine's shared Redis)."""

    def __init__(self, port: int, *options: str) -> None:
        self.port = port
        self.options = list(options)  # more redis-server options, e.g. "--appendonly", "yes"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=20)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGKILL)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _reset_broker_pools() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Point this process's Celery app at another broker for the duration (real connections, no mock)."""
    # broker_write_url, not broker_url: the CELERY_BROKER_URL variable wins over broker_url.
    previous = celery_app.conf.get("broker_write_url")
    _reset_broker_pools()
    celery_app.conf.broker_write_url = url
    try:
        yield
    finally:
        _reset_broker_pools()
        celery_app.conf.broker_write_url = previous
