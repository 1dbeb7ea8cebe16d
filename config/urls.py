from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from requests_app.api.views import ApiSchemaView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before the admin: the two-factor steps of the admin login.
    path("admin/two-factor/", include("security.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("", include("requests_app.urls")),
    path("", include("subprocessors.urls")),
    path("", include("fulfilment.urls")),
]
