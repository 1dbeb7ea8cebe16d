from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from config import views
from requests_app.api.views import ApiSchemaView

handler403 = views.permission_denied
handler404 = views.page_not_found

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("favicon.svg", views.favicon, name="favicon"),
    path("favicon.ico", RedirectView.as_view(url="/favicon.svg", permanent=True)),
    # Before the admin: the two-factor steps of the admin login.
    path("admin/two-factor/", include("security.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", title="Studio compliance back office API"),
        name="api-docs",
    ),
    path("", include("requests_app.urls")),
    path("", include("subprocessors.urls")),
    path("", include("fulfilment.urls")),
]
