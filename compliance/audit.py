"""The access audit as compliance's own admin records it.

``compliance`` sits below ``security`` and imports nothing of ours, so the security
app hands its recorder in at start-up (``SecurityConfig.ready``) and compliance's
admin records data map changes and exports through ``access_event_record`` here.
Without a recorder, recording fails loudly: a change must not go unaudited.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

# Actions compliance records (values of ``security.models.AccessEvent.Action``).
CHANGED_DATA_MAP = "changed_data_map"
EXPORTED_RECORDS = "exported_records"

_recorder: Callable | None = None


def access_recorder_install(recorder: Callable) -> None:
    global _recorder
    _recorder = recorder


def access_event_record(*, actor: User | None, action: str, obj=None, request=None, detail: str = ""):
    """Record an access event through the installed recorder, in the caller's transaction."""
    if _recorder is None:
        raise ImproperlyConfigured("The access audit is not installed: add the security app to INSTALLED_APPS.")
    return _recorder(actor=actor, action=action, obj=obj, request=request, detail=detail)
