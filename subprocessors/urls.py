"""Public pages of the register: no login, only what customers may see."""

from django.urls import path

from subprocessors import views
from subprocessors.feeds import SubprocessorChangesFeed

app_name = "subprocessors"

urlpatterns = [
    path("subprocessors/", views.subprocessor_list, name="list"),
    path("subprocessors.json", views.subprocessor_list_json, name="json"),
    path("subprocessors.csv", views.subprocessor_list_csv, name="csv"),
    path("subprocessors/feed/", SubprocessorChangesFeed(), name="feed"),
    path("subprocessors/subscribe/", views.subscribe, name="subscribe"),
    path("subprocessors/confirm/<str:token>/", views.confirm, name="confirm"),
    path("subprocessors/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
