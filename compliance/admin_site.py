"""The admin site of the back office: product title and a dashboard on the index.

Each app contributes a dashboard panel through ``settings.ADMIN_DASHBOARD_PANELS``
(dotted paths to callables taking the request), so this module imports no app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.template.loader import render_to_string
from django.utils.module_loading import import_string


class BackOfficeAdminSite(admin.AdminSite):
    site_header = "Studio compliance back office"
    site_title = "Studio compliance"
    index_title = "Dashboard"
    enable_nav_sidebar = True

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every ModelAdmin, whichever app registers it (Django's and third-party apps' too), gets the mixins of
        ``settings.ADMIN_MODEL_ADMIN_MIXINS``: today, searches that keep their terms out of URLs
        (``security.admin_search``)."""
        base = admin_class or admin.ModelAdmin
        mixins = tuple(
            mixin
            for mixin in (import_string(path) for path in settings.ADMIN_MODEL_ADMIN_MIXINS)
            if not issubclass(base, mixin)
        )
        if mixins:
            attributes = {"__module__": base.__module__, "__qualname__": base.__qualname__, "__doc__": base.__doc__}
            admin_class = type(base.__name__, (*mixins, base), attributes)
        return super().register(model_or_iterable, admin_class, **options)

    def dashboard_panels(self, request) -> list[dict[str, Any]]:
        panels = []
        for path in settings.ADMIN_DASHBOARD_PANELS:
            panel = import_string(path)(request)
            if panel is not None:
                html = render_to_string(panel["template"], panel.get("context", {}), request=request)
                panels.append({"title": panel["title"], "html": html})
        return panels

    def index(self, request, extra_context=None):
        context = {"dashboard_panels": self.dashboard_panels(request), **(extra_context or {})}
        return super().index(request, extra_context=context)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "compliance.admin_site.BackOfficeAdminSite"
