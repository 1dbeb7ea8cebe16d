"""Two request-level protections: the second factor for admin logins, and the security headers."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from security.selectors import has_confirmed_device, two_factor_required


def two_factor_exempt(view):
    """Mark a view an unverified (password-only) session may open: the two-factor pages themselves."""
    view.two_factor_exempt = True
    return view


class AdminTwoFactorMiddleware:
    """A password alone opens nothing for a login that must use two-factor.

    Must come after ``django_otp.middleware.OTPMiddleware``. For such a login
    that has not passed its second factor in this session, every admin page
    redirects to the verification page (or to enrolment when the user has no
    device yet), and every other page sees an anonymous visitor.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if getattr(view_func, "two_factor_exempt", False):
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified() or not two_factor_required(user):
            return None
        match = request.resolver_match
        if match is not None and "admin" in match.app_names:
            if match.url_name == "logout":
                return None
            step = "security:two_factor_verify" if has_confirmed_device(user) else "security:two_factor_setup"
            # The path only: a query string may hold what someone searched for.
            return HttpResponseRedirect(f"{reverse(step)}?{urlencode({'next': request.path})}")
        request.user = AnonymousUser()
        return None


def _policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *sources]).strip() for directive, sources in policy.items())


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response.

    The policy is ``settings.CONTENT_SECURITY_POLICY`` (directive -> sources); a
    view that needs another policy sets the header itself and is left alone.
    Django's ``SecurityMiddleware`` sends the other headers (HSTS, nosniff,
    Referrer-Policy, Cross-Origin-Opener-Policy).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        csp = _policy_header(settings.CONTENT_SECURITY_POLICY)
        if csp and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = csp
        permissions = ", ".join(f"{feature}=()" for feature in settings.PERMISSIONS_POLICY_DISABLED)
        if permissions and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = permissions
        return response
