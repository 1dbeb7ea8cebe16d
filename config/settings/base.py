"""Settings shared by every environment. Values come from the environment (see config/env.py)."""

from datetime import timedelta

from celery.schedules import crontab  # noqa: F401 - available to settings that extend schedules

from config.env import (
    BASE_DIR,
    VAR_DIR,
    bool_from_env,
    broker_from_env,
    cache_from_env,
    database_from_env,
    days_from_env,
    email_from_env,
    env,
    int_from_env,
    list_from_env,
    month_day_from_env,
    rate_from_env,
    required,
    row_limits_from_env,
    seconds_from_env,
)

# ------------------------------------------------------------------------------
# General
# ------------------------------------------------------------------------------
DEBUG = bool_from_env("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-key-change-me-0123456789abcdefghijklmnop")
ALLOWED_HOSTS = list_from_env("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Europe/London")
LANGUAGE_CODE = "en-gb"
USE_I18N = True
USE_TZ = True
# One date format for people (config/formats/en_GB/formats.py): "3 October 2025", "3 October 2025, 14:05".
FORMAT_MODULE_PATH = ["config.formats"]
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SITE_NAME = env.str("SITE_NAME", default="Studio compliance back office")
# Absolute base URL used in emails and signed links (no trailing slash); by default the demo's web server
# on this machine, on WEB_PORT (the Procfile's port).
SITE_URL = env.str(
    "SITE_URL", default=f"http://127.0.0.1:{int_from_env('WEB_PORT', 8000, minimum=1, maximum=65535)}"
).rstrip("/")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Databases
# ------------------------------------------------------------------------------
# ``default`` holds the back office's own records. Every other alias is a system
# of record the connectors may reach (the data map names aliases, never
# credentials). ``platform`` is the sample Studio product database, used by the
# demo: optional, PLATFORM_DATABASE_URL set empty leaves the alias out (a team
# connecting only its own systems has no sample platform).
DATABASES = {
    "default": database_from_env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'backoffice.sqlite3'}"),
}
if env.str("PLATFORM_DATABASE_URL", default="unset") != "":
    DATABASES["platform"] = database_from_env("PLATFORM_DATABASE_URL", f"sqlite:///{VAR_DIR / 'platform.sqlite3'}")
# More systems of record: SYSTEM_OF_RECORD_ALIASES=billing,crm with
# BILLING_DATABASE_URL and CRM_DATABASE_URL set.
for _alias in list_from_env("SYSTEM_OF_RECORD_ALIASES", []):
    DATABASES[_alias] = database_from_env(f"{_alias.upper()}_DATABASE_URL", "")
DATABASE_ROUTERS = ["sample_platform.routers.SamplePlatformRouter"]

# ------------------------------------------------------------------------------
# Applications
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    "compliance.admin_site.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "simple_history",
    "django_celery_beat",
    "django_countries",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the project (no CDN)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]
LOCAL_APPS = [
    "compliance",
    "security",
    "jobs",
    "subprocessors",
    "retention",
    "requests_app",
    "fulfilment",
    "sample_platform",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "security.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.AdminTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Authentication and sessions
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = int_from_env("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True  # the age above is an inactivity timeout
SESSION_COOKIE_HTTPONLY = True
# A form refused by the CSRF check: a page in the admin's or the public pages' look saying what to do.
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"  # after a refused (off-site) ``next``; Django's default is a 404 here
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]

# ------------------------------------------------------------------------------
# Security: second factor, login throttling, client address, headers
# ------------------------------------------------------------------------------
# Every admin login passes a TOTP code (or a recovery code) after its password.
# Only the local demo may turn this off; `check --deploy` warns when it is off.
ADMIN_2FA_REQUIRED = bool_from_env("ADMIN_2FA_REQUIRED", True)
# Plain support agents (that group only, no other permission) may be exempted.
SUPPORT_AGENT_2FA_REQUIRED = bool_from_env("SUPPORT_AGENT_2FA_REQUIRED", True)
TWO_FACTOR_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = SITE_NAME
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Reverse proxies in front of the web process that append to X-Forwarded-For;
# 0 means REMOTE_ADDR is the client (the header is then ignored).
TRUSTED_PROXY_COUNT = int_from_env("TRUSTED_PROXY_COUNT", 0, minimum=0)
# django-axes: lock a username at one address after this many failures, for this long.
AXES_ENABLED = True
AXES_FAILURE_LIMIT = int_from_env("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=int_from_env("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False  # failures stay in axes' tables; `manage.py axes_reset_username NAME` unlocks early
AXES_CLIENT_IP_CALLABLE = "security.ip.client_ip"
AXES_CLIENT_STR_CALLABLE = "security.axes_hooks.client_str"  # log lines carry a keyed hash, not the username
AXES_LOCKOUT_CALLABLE = "security.views.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# No log of successful logins in axes' table (IP and browser of every login, kept forever):
# a login that passes its second factor is an AccessEvent, which the access audit keeps.
AXES_DISABLE_ACCESS_LOG = True
# Content-Security-Policy of every response. The admin runs no inline script, so
# scripts are 'self' only; it does use inline <style> blocks, hence 'unsafe-inline'
# for styles (styles cannot run code).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
_csp_report_uri = env.str("CSP_REPORT_URI", default="")
if _csp_report_uri:
    CONTENT_SECURITY_POLICY["report-uri"] = [_csp_report_uri]
PERMISSIONS_POLICY_DISABLED = ["camera", "microphone", "geolocation", "payment", "usb", "interest-cohort"]

# ------------------------------------------------------------------------------
# Static and media files
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_ROOT = env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Export bundles and DPA documents: never served from MEDIA_URL, only through
    # views that check permissions or signed links.
    "private": {
        "BACKEND": env.str("PRIVATE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": env.str("PRIVATE_STORAGE_ROOT", default=str(VAR_DIR / "private"))},
    },
}
# Private files on a local disk are readable by the owner (the web and worker user) only.
PRIVATE_FILE_PERMISSIONS = {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}
if STORAGES["private"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    STORAGES["private"]["OPTIONS"].update(PRIVATE_FILE_PERMISSIONS)

# ------------------------------------------------------------------------------
# Email
# ------------------------------------------------------------------------------
vars().update(email_from_env("EMAIL_URL", "filemail://var/mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Studio privacy <studio@pahlavan.co.uk>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The policy's contact address (§9): where rights requests arrive.
PRIVACY_CONTACT_EMAIL = env.str("PRIVACY_CONTACT_EMAIL", default="studio@pahlavan.co.uk")
# Who the requester deals with: the controller's name as people know it, and how letters are signed.
CONTROLLER_NAME = env.str("CONTROLLER_NAME", default="Studio")
PRIVACY_TEAM_SIGNATURE = env.str("PRIVACY_TEAM_SIGNATURE", default=f"The {CONTROLLER_NAME} privacy team")

# ------------------------------------------------------------------------------
# Law (REGULATIONS.md §1, §1a)
# ------------------------------------------------------------------------------
# The controller's own regimes (regime codes): they govern every request, wherever the requester lives.
# Studio is UK-established, so UK GDPR covers all of its processing (Art. 3(1)).
CONTROLLER_REGIMES = env.list("CONTROLLER_REGIMES", default=["uk_gdpr"])
# The member state whose public holidays roll an EU GDPR due date (where the EU establishment or
# representative acts); loaded into the EU GDPR regime row by the policy baseline.
EU_GDPR_HOLIDAY_COUNTRY = env.str("EU_GDPR_HOLIDAY_COUNTRY", default="IE")
# US appeals (§1b): the statutes let a consumer appeal "within a reasonable period" of a refusal. The
# refusal letter names a date this many days after it; an appeal that arrives later is still logged.
APPEAL_INVITED_WITHIN_DAYS = env.int("APPEAL_INVITED_WITHIN_DAYS", default=60)

# ------------------------------------------------------------------------------
# Celery
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = broker_from_env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker" / "queue"
    _processed_dir = VAR_DIR / "broker" / "processed"
    _control_dir = VAR_DIR / "broker" / "control"  # kombu's default is ./control, in whatever the cwd is
    for _folder in (_queue_dir, _processed_dir, _control_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
        # kombu polls the folder once a second by default, so the demo's worker started 2 jobs a second
        # (and a letter waited up to a second); a tenth of a second costs an idle worker a few stat calls.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int_from_env("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_BACKEND = None  # jobs record their outcome in the database, never in a result backend
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int_from_env("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = int_from_env("CELERY_TASK_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False
# The outbox (jobs/): a job saved with its change is resent by beat when its on-commit send failed
# (broker down) and it is older than this; records of sent jobs are kept this many days.
JOBS_RESEND_AFTER_SECONDS = int_from_env("JOBS_RESEND_AFTER_SECONDS", 30, minimum=1)
JOBS_KEEP_SENT_DAYS = int_from_env("JOBS_KEEP_SENT_DAYS", 7, minimum=1)
# How old the last worker heartbeat may be before the admin shows the workers as down.
WORKER_HEARTBEAT_STALE_SECONDS = int_from_env("WORKER_HEARTBEAT_STALE_SECONDS", 5 * 60, minimum=60)

# ------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------
# Shared by every web process: the API rate limit and the subscribe form's limit are counted in it.
# Redis in production and tests (by default the broker's Redis, under its own key prefix; clearing the
# cache never touches the queues); the demo, with no server, keeps it in files under var/.
_cache_default = f"file://{VAR_DIR / 'cache'}"
if CELERY_BROKER_URL.startswith(("redis:", "rediss:")):
    _cache_default = CELERY_BROKER_URL
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="backoffice")
CACHES = {"default": cache_from_env("CACHE_URL", _cache_default, key_prefix=CACHE_KEY_PREFIX)}

# ------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------
# Requests each API client may make, all endpoints together, counted per fixed window in the shared
# cache; over it the API answers 429 with Retry-After.
API_RATE_LIMIT = rate_from_env("API_RATE_LIMIT", "600/minute")
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    # JSON for every error, a body over DATA_UPLOAD_MAX_MEMORY_SIZE included (413).
    "EXCEPTION_HANDLER": "requests_app.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio compliance back office API",
    "DESCRIPTION": "Intake of data subject rights requests from support desks and web forms.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/: Swagger UI from drf-spectacular-sidecar's static files; its start-up script is a separate
    # file (SpectacularSwaggerSplitView), so the page runs under script-src 'self'.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/favicon.svg",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "defaultModelsExpandDepth": 0},
    "ENUM_NAME_OVERRIDES": {
        "RightsRequestStatusEnum": "requests_app.models.RequestStatus",
        "RequestLineStatusEnum": "requests_app.models.RequestLine.Status",
        # The rights of a new request and the lines of an appeal: one set.
        "RightsEnum": "requests_app.api.serializers.RIGHT_CODES",
    },
}

# ------------------------------------------------------------------------------
# Compliance: keys and policy parameters
# ------------------------------------------------------------------------------
# Per-installation key for keyed hashes (erasure ledger, hashed column treatment).
# Changing it makes earlier hashes unmatchable: keep it with the database backups.
COMPLIANCE_HMAC_KEY = env.str("COMPLIANCE_HMAC_KEY", default="insecure-local-hmac-key-change-me")
# Contractual notice period for subprocessor changes (GDPR Art. 28(2)).
SUBPROCESSOR_NOTICE_DAYS = int_from_env("SUBPROCESSOR_NOTICE_DAYS", 30, minimum=0)
# Subprocessor register: days before a DPA review or attestation expiry on which owners are
# reminded; how long a subscription confirmation link stays valid; public subscribe form rate limit.
SUBPROCESSOR_REMINDER_DAYS = days_from_env("SUBPROCESSOR_REMINDER_DAYS", [60, 30])
SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS = int_from_env(
    "SUBPROCESSOR_CONFIRMATION_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=3600
)
SUBPROCESSOR_SUBSCRIBE_LIMIT = int_from_env("SUBPROCESSOR_SUBSCRIBE_LIMIT", 5, minimum=1)
# Largest signed DPA (a PDF) the admin accepts, in megabytes.
DPA_UPLOAD_MAX_MB = int_from_env("DPA_UPLOAD_MAX_MB", 20, minimum=1)
SUBPROCESSOR_SUBSCRIBE_WINDOW_SECONDS = int_from_env("SUBPROCESSOR_SUBSCRIBE_WINDOW_SECONDS", 3600, minimum=1)
# Retention (policy §6): the last day of the financial year, as MM-DD, from which "6 years after the
# financial year" counts; and how long a sweeping worker's claim on a run lasts without renewal (a
# killed worker's run is taken over after this).
RETENTION_FINANCIAL_YEAR_END = month_day_from_env("RETENTION_FINANCIAL_YEAR_END", "03-31")
RETENTION_LEASE_SECONDS = int_from_env("RETENTION_LEASE_SECONDS", 120, minimum=2)
# How long one sweep batch should last: batches grow from 1,000 keys toward this (up to the rule's batch
# size) and shrink when slower; 0 keeps every batch at the rule's batch size (compliance.connectors.BatchSizer).
RETENTION_BATCH_TARGET_MS = int_from_env("RETENTION_BATCH_TARGET_MS", 60, minimum=0, maximum=10_000)
# Fulfilment (issue 18): a worker running a step, an export or a bundle's assembly renews its lease
# (heartbeat_at) every third of this; beat's stall job queues again the work whose lease lapsed (its worker
# is gone) and a step whose job was queued this long ago but never started (lost with a broker restart).
FULFILMENT_LEASE_SECONDS = int_from_env("FULFILMENT_LEASE_SECONDS", 120, minimum=2)

# ------------------------------------------------------------------------------
# Systems of record: connectors
# ------------------------------------------------------------------------------
# Webhook systems sign with a secret the data map names but never stores:
# WEBHOOK_SECRET_NAMES=CRM_WEBHOOK_SECRET makes CRM_WEBHOOK_SECRET required.
WEBHOOK_SECRETS = {name: required(name) for name in list_from_env("WEBHOOK_SECRET_NAMES", [])}
WEBHOOK_TIMEOUT_SECONDS = int_from_env("WEBHOOK_TIMEOUT_SECONDS", 30, minimum=1)
WEBHOOK_MAX_ATTEMPTS = int_from_env("WEBHOOK_MAX_ATTEMPTS", 4, minimum=1)
# Waits between attempts: this many seconds, doubling each time (capped at 60).
WEBHOOK_RETRY_BACKOFF_SECONDS = seconds_from_env("WEBHOOK_RETRY_BACKOFF_SECONDS", 2.0)
# A signed message older or newer than this is refused as a replay (both directions).
WEBHOOK_REPLAY_WINDOW_SECONDS = int_from_env("WEBHOOK_REPLAY_WINDOW_SECONDS", 300, minimum=1)

# ------------------------------------------------------------------------------
# Fulfilment: export bundles, erasure, Art. 19 notices
# ------------------------------------------------------------------------------
# Where export bundles are stored (a key of STORAGES; any Django storage backend),
# how long a bundle is kept before the beat job purges it, and where bundles are
# built (a local folder; the system's temporary folder when empty).
EXPORT_BUNDLE_STORAGE = env.str("EXPORT_BUNDLE_STORAGE", default="private")
EXPORT_BUNDLE_DAYS = int_from_env("EXPORT_BUNDLE_DAYS", 7, minimum=1)
EXPORT_BUNDLE_TEMP_DIR = env.str("EXPORT_BUNDLE_TEMP_DIR", default="")
EXPORT_BUNDLE_COMPRESSION_LEVEL = int_from_env("EXPORT_BUNDLE_COMPRESSION_LEVEL", 1, minimum=1, maximum=9)
# Download links: days valid (never beyond the bundle), downloads allowed, wrong answers
# before the link locks, one-time codes per hour and their validity.
EXPORT_LINK_DAYS = int_from_env("EXPORT_LINK_DAYS", 7, minimum=1)
EXPORT_LINK_MAX_DOWNLOADS = int_from_env("EXPORT_LINK_MAX_DOWNLOADS", 3, minimum=1)
EXPORT_LINK_MAX_FAILURES = int_from_env("EXPORT_LINK_MAX_FAILURES", 5, minimum=1)
EXPORT_LINK_CODES_PER_HOUR = int_from_env("EXPORT_LINK_CODES_PER_HOUR", 3, minimum=1)
EXPORT_LINK_CODE_MINUTES = int_from_env("EXPORT_LINK_CODE_MINUTES", 15, minimum=1)
# Erasure plans need a compliance officer's approval, except, per regime, plans changing
# at most this many rows: ERASURE_APPROVAL_WAIVER=ccpa:50,vcdpa:50 (empty: always approve).
ERASURE_APPROVAL_WAIVER = row_limits_from_env("ERASURE_APPROVAL_WAIVER")
# How many subjects `replay_erasures` reads from a system to find erased ones again.
ERASURE_REPLAY_SCAN_LIMIT = int_from_env("ERASURE_REPLAY_SCAN_LIMIT", 5_000_000, minimum=1)
# Art. 19 notices: reminder cadence and count; the secret that signs webhook notices
# (empty: notices go by email even to vendors with a webhook).
ART19_REMINDER_DAYS = int_from_env("ART19_REMINDER_DAYS", 7, minimum=1)
ART19_MAX_REMINDERS = int_from_env("ART19_MAX_REMINDERS", 3, minimum=0)
ART19_WEBHOOK_SECRET = env.str("ART19_WEBHOOK_SECRET", default="")

# ------------------------------------------------------------------------------
# Admin dashboard
# ------------------------------------------------------------------------------
# Callables returning {"title": ..., "template": ..., "context": {...}} or None,
# rendered on the admin index in this order (each app adds its own panel).
ADMIN_DASHBOARD_PANELS = [
    "compliance.dashboard.worker_health_panel",
    "compliance.dashboard.datamap_panel",
    "jobs.dashboard.outbox_panel",
    "subprocessors.dashboard.register_panel",
    "retention.dashboard.retention_panel",
    "security.dashboard.two_factor_panel",
    "requests_app.dashboard.rights_requests_panel",
    "fulfilment.dashboard.fulfilment_panel",
]
# Mixed into every ModelAdmin the admin site registers, whichever app registers it: admin searches post their
# term and lists carry an opaque token (?s=...), never the term (an email address, a name) in a URL.
ADMIN_MODEL_ADMIN_MIXINS = ["security.admin_search.SavedSearchAdminMixin"]
# Callables returning lines for the compliance officers' daily digest (work needing their attention that
# no request's due date shows: stalled fulfilment work); each app adds its own, as for the panels.
DIGEST_SECTIONS = ["fulfilment.selectors.stalled_digest_lines", "compliance.discovery.drift_digest_lines"]

# ------------------------------------------------------------------------------
# Logging: ids only, never personal data
# ------------------------------------------------------------------------------
# Request lines (the development server's, and django.request's 4xx/5xx paths) would carry admin search
# terms (?q=<email>) and the tokens of public links (/data-export/<token>/): config.log_filters rewrites
# them on the loggers that write them and on the handler, before anything is written.
# Expected refusals (403 permission denied or CSRF failure, a 400 for a suspicious request) are one line
# without a traceback (config.log_filters.ConciseRefusals); a 5xx keeps its traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub_request_lines": {"()": "config.log_filters.ScrubRequestLines"},
        "concise_refusals": {"()": "config.log_filters.ConciseRefusals"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "request_line": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["concise_refusals", "scrub_request_lines"],
        },
        "request_lines": {
            "class": "logging.StreamHandler",
            "formatter": "request_line",
            "filters": ["concise_refusals", "scrub_request_lines"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["concise_refusals", "scrub_request_lines"]},
        "django.server": {
            "handlers": ["request_lines"],
            "level": "INFO",
            "propagate": False,
            "filters": ["scrub_request_lines"],
        },
    },
}

# ------------------------------------------------------------------------------
# Demo
# ------------------------------------------------------------------------------
# ``manage.py load_demo`` calls these in order, each with ``stdout=``; each app
# adds the step that loads its demo data. Every step is safe to run again.
DEMO_STEPS: list[str] = [
    "sample_platform.demo.load_demo",
    "compliance.demo.load_demo",
    "security.demo.load_demo_security",
    "subprocessors.demo.load_demo",
    "retention.demo.load_demo",
    "requests_app.demo.load_demo_requests",
    "fulfilment.demo.load_demo_fulfilment",
]
FORMS_URLFIELD_ASSUME_HTTPS = True  # transitional setting until Django 6.0
