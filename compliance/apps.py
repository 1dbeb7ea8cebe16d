from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance: taxonomy and data map"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from compliance.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="compliance.sync_roles")
