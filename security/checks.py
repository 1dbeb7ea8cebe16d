"""Deploy checks (``manage.py check --deploy``) for what Django's own checks do not cover."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

REQUIRED_MIDDLEWARE = [
    "security.middleware.SecurityHeadersMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.AdminTwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
]


@register(deploy=True)
def security_deploy_checks(app_configs=None, **kwargs):
    problems = []
    if not settings.ADMIN_2FA_REQUIRED:
        problems.append(
            Warning(
                "ADMIN_2FA_REQUIRED is off: admin logins need only a password.",
                hint="Unset ADMIN_2FA_REQUIRED (it defaults to true) outside the demo.",
                id="security.W001",
            )
        )
    missing = [name for name in REQUIRED_MIDDLEWARE if name not in settings.MIDDLEWARE]
    if missing:
        problems.append(Warning(f"Security middleware missing: {', '.join(missing)}", id="security.W002"))
    policy = settings.CONTENT_SECURITY_POLICY
    scripts = policy.get("script-src", policy.get("default-src", []))
    if "default-src" not in policy or "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts:
        problems.append(
            Warning(
                "CONTENT_SECURITY_POLICY needs a default-src and must not allow inline or eval'd scripts.",
                id="security.W003",
            )
        )
    if not settings.AXES_ENABLED:
        problems.append(Warning("AXES_ENABLED is off: logins are not throttled.", id="security.W004"))
    return problems
