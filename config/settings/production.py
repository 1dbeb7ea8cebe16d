"""Production: secrets have no defaults; HTTPS everywhere."""

from config.env import int_from_env, required
from config.settings.base import *  # noqa: F403
from config.settings.base import ALLOWED_HOSTS, list_from_env

DEBUG = False
SECRET_KEY = required("DJANGO_SECRET_KEY")
COMPLIANCE_HMAC_KEY = required("COMPLIANCE_HMAC_KEY")
ALLOWED_HOSTS = list_from_env("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = list_from_env("DJANGO_CSRF_TRUSTED_ORIGINS", [])

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
