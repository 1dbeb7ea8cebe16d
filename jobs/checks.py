"""Deploy check (``manage.py check --deploy``): a Redis broker that would forget queued jobs on a restart.

Jobs are acknowledged late, so a job a worker has taken stays in Redis until it is done. A Redis without
persistence forgets every queued and in-flight job when it restarts; the outbox has marked them sent by
then. Fulfilment's stall job finds that work again after ``FULFILMENT_LEASE_SECONDS`` (docs/reliability.md),
but other jobs (letters, notices) would wait for their own periodic resend: production
Redis should run with ``appendonly yes``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Warning, register


def _appendonly(url: str) -> str | None:
    """Redis's ``appendonly`` setting, or None when the broker does not say (CONFIG refused or unreachable)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return str(client.config_get("appendonly").get("appendonly", "")) or None
    except redis.RedisError:  # CONFIG renamed away (managed Redis), or no broker to ask during the check
        return None
    finally:
        client.close()


@register(deploy=True)
def broker_persistence_check(app_configs=None, **kwargs):
    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme not in {"redis", "rediss"}:
        return []
    if _appendonly(url) != "no":
        return []
    return [
        Warning(
            "The Celery broker is Redis without append-only persistence: a Redis restart loses every queued "
            "and in-flight job.",
            hint="Run Redis with 'appendonly yes' (see docs/reliability.md), or accept that after "
            "a restart fulfilment work resumes only when the stall job finds it (FULFILMENT_LEASE_SECONDS) "
            "and other jobs when their periodic resend runs.",
            id="jobs.W001",
        )
    ]
