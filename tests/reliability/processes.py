"""Moved to ``tests.support.processes``; kept so branches written against this path still import."""

from tests.support.processes import (  # noqa: F401 - re-exported
    RedisServer,
    broker,
    free_port,
    purge_default_queue,
    start_worker,
    stop_process,
    url_for,
    wait_for,
)
