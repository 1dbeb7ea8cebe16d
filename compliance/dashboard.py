"""The compliance app's panel on the admin dashboard."""

from __future__ import annotations

from compliance.selectors import worker_health


def worker_health_panel(request):
    if not request.user.has_perm("compliance.view_workerheartbeat"):
        return None
    return {
        "title": "Background jobs",
        "template": "compliance/dashboard/worker_health.html",
        "context": {"health": worker_health()},
    }
