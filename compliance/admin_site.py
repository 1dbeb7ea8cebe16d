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
