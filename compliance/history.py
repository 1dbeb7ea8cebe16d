"""Who a django-simple-history row names as the author of a change.

In the admin, ``HistoryRequestMiddleware`` takes the user from the request. A service called from a
worker, a management command or the API names its actor explicitly with :func:`set_history_actor`
before saving; ``None`` (the system) leaves the request's user, if any, to speak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def set_history_actor(instance: models.Model, actor: User | None) -> None:
    """Attribute the history row of ``instance``'s next save to ``actor`` (``None``: the system)."""
    if actor is not None:
        instance._history_user = actor  # type: ignore[attr-defined]  # read by simple_history
