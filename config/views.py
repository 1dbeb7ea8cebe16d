"""Site-wide views: the error pages and the favicon.

Admin 403 and 404 pages are drawn in the admin's look (header, navigation the person may use) and say
what the person can do instead; everywhere else Django's plain pages stand, so a public page's error
never shows the admin. A form refused by the CSRF check (``CSRF_FAILURE_VIEW``) gets a page in the
admin's look under ``/admin/`` (signed in or not: the login form expires too) and in the public pages'
look elsewhere, saying what to do: go back, reload, send again. The page never names the refusal's
technical reason, the person or what they typed.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.middleware import csrf
from django.template.response import TemplateResponse
from django.views import defaults
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

FAVICON = (Path(__file__).resolve().parent / "assets" / "favicon.svg").read_bytes()


def _in_admin(request) -> bool:
    user = getattr(request, "user", None)
    return request.path.startswith("/admin/") and user is not None and user.is_active and user.is_staff


def _admin_error(request, status: int, template: str, title: str):
    context = {**admin.site.each_context(request), "title": title, "roles": _roles(request.user)}
    response = TemplateResponse(request, template, context, status=status)
    return response.render()


def _roles(user) -> str:
    names = sorted(group.name for group in user.groups.all())
    if user.is_superuser:
        names.insert(0, "superuser")
    return ", ".join(names) or "no role yet"


def permission_denied(request, exception=None):
    if _in_admin(request):
        return _admin_error(request, 403, "admin/403.html", "Your role does not allow this")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _in_admin(request):
        return _admin_error(request, 404, "admin/404.html", "Nothing here")
    return defaults.page_not_found(request, exception)


def csrf_failure(request, reason: str = ""):
    """The 403 of a form whose CSRF token is missing, stale or from another site (``CSRF_FAILURE_VIEW``)."""
    context = {
        "title": "This form has expired",
        "cookies_refused": reason == csrf.REASON_NO_CSRF_COOKIE,
        "privacy_contact": settings.PRIVACY_CONTACT_EMAIL,
    }
    if request.path.startswith("/admin/"):
        context = {**admin.site.each_context(request), **context}
        template = "admin/403_csrf.html"
    else:
        template = "403_csrf.html"
    response = TemplateResponse(request, template, context, status=403)
    return response.render()


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    return HttpResponse(FAVICON, content_type="image/svg+xml")
