from django.urls import path

from requests_app.api import views

app_name = "requests_app"

urlpatterns = [
    path("api/v1/rights-requests/", views.RightsRequestCreateView.as_view(), name="api-rights-request-create"),
    path(
        "api/v1/rights-requests/<str:reference>/",
        views.RightsRequestDetailView.as_view(),
        name="api-rights-request-detail",
    ),
    path(
        "api/v1/rights-requests/<str:reference>/events/",
        views.RightsRequestEventCreateView.as_view(),
        name="api-rights-request-events",
    ),
    path(
        "api/v1/rights-requests/<str:reference>/appeals/",
        views.RightsRequestAppealCreateView.as_view(),
        name="api-rights-request-appeals",
    ),
]
