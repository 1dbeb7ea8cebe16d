"""Production: secrets have no defaults; HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from config.env import int_from_env, refuse_memory_broker, required
from config.settings.base import *  # noqa: F403
from config.settings.base import ALLOWED_HOSTS, CACHES, CELERY_BROKER_URL, TRUSTED_PROXY_COUNT, list_from_env

refuse_memory_broker("CELERY_BROKER_URL", CELERY_BROKER_URL)

DEBUG = False
SECRET_KEY = required("DJANGO_SECRET_KEY")
COMPLIANCE_HMAC_KEY = required("COMPLIANCE_HMAC_KEY")
ALLOWED_HOSTS = list_from_env("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = list_from_env("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# X-Forwarded-Proto says the request came over HTTPS only when a proxy we trust set it: without one
# (TRUSTED_PROXY_COUNT=0) any client could send the header and pass for a secure request.
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = int_from_env("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
# __Host- cookies are only accepted over HTTPS, for this exact host, on every path:
# a sibling subdomain cannot plant or overwrite them.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
X_FRAME_OPTIONS = "DENY"

# Every web process on every machine counts the API rate limit in the same cache.
if not CACHES["default"]["BACKEND"].endswith("RedisCache"):
    raise ImproperlyConfigured("CACHE_URL must be a redis:// URL in production (default: the broker's, if Redis)")
