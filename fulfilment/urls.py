from django.urls import path

from fulfilment import views

app_name = "fulfilment"

urlpatterns = [
    path("data-export/<str:token>/", views.download_view, name="download"),
    path("art19-notices/<str:token>/confirm/", views.notice_confirm_view, name="notice-confirm"),
]
