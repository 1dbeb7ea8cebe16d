from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from compliance.audit import access_recorder_install
        from security import checks  # noqa: F401 - registers the deploy checks
        from security.services import access_event_record

        access_recorder_install(access_event_record)
