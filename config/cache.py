"""The cache backend for Redis shared with the Celery broker.

Django's ``RedisCache.clear()`` empties the whole Redis database (FLUSHDB): on the broker's database
that would drop every queued job. This backend's ``clear()`` deletes only the cache's own keys (those
under its ``KEY_PREFIX``), so a test or a shell that clears the cache leaves the queues alone.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured


class SharedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        if not self.key_prefix:
            raise ImproperlyConfigured("A cache sharing Redis with the broker needs a KEY_PREFIX.")

    def clear(self) -> bool:
        client = self._cache.get_client(None, write=True)
        pattern = f"{self.key_prefix}:*".replace("[", "\\[").replace("?", "\\?")
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return True
