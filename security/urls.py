from django.urls import path

from security import views

app_name = "security"

urlpatterns = [
    path("verify/", views.two_factor_verify_view, name="two_factor_verify"),
    path("setup/", views.two_factor_setup_view, name="two_factor_setup"),
    path("recovery-codes/", views.recovery_codes_view, name="recovery_codes"),
]
