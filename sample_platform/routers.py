"""Keeps the sample platform in its own database and the back office out of it.

The sample platform stands in for Studio's product database: its tables live on
the ``platform`` alias only. The back office's own apps migrate on ``default``
only; other aliases are systems of record the back office reaches through
connectors and never migrates.
"""

PLATFORM_APP = "sample_platform"
PLATFORM_ALIAS = "platform"


class SamplePlatformRouter:
    def db_for_read(self, model, **hints):
        return PLATFORM_ALIAS if model._meta.app_label == PLATFORM_APP else None

    def db_for_write(self, model, **hints):
        return PLATFORM_ALIAS if model._meta.app_label == PLATFORM_APP else None

    def allow_relation(self, obj1, obj2, **hints):
        in_platform = {obj1._meta.app_label == PLATFORM_APP, obj2._meta.app_label == PLATFORM_APP}
        return None if len(in_platform) == 1 else False

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == PLATFORM_APP:
            return db == PLATFORM_ALIAS
        return db == "default"
