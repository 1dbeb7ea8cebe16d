"""The API's rate limit: requests per API client, counted in the shared cache.

DRF's own ``SimpleRateThrottle`` keeps the time of every request in one cache value and rewrites it on
each request: several web processes race on it, and at high rates the value grows with every request.
Here each client has one counter per fixed window (``API_RATE_LIMIT``, e.g. 600/minute), raised with the
cache's atomic increment (Redis ``INCR``), so every web process on every machine counts the same
requests. Over the limit, DRF answers 429 with ``Retry-After`` (the seconds left in the window) and a
JSON body.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from requests_app.models import ApiClient

logger = logging.getLogger(__name__)


class ApiClientRateThrottle(SimpleRateThrottle):
    scope = "api_client"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view) -> str | None:
        client = request.user
        if not isinstance(client, ApiClient):
            return None  # unauthenticated calls are refused (401) before any throttle runs
        return f"throttle:api_client:{client.pk}"

    def allow_request(self, request, view) -> bool:
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{ident}:{window}"
        try:
            self.cache.add(key, 0, timeout=self.duration + 1)
            try:
                count = self.cache.incr(key)
            except ValueError:  # the window expired between the two calls
                self.cache.set(key, 1, timeout=self.duration + 1)
                count = 1
        except Exception as exc:  # the cache is down: let intake through rather than lose requests
            logger.warning("API rate limit not counted: the cache is unreachable (%s)", type(exc).__name__)
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1, math.ceil(self.window_ends - self.now))
