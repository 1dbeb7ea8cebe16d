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


def datamap_panel(request):
    """Open data-map suggestions, drift first: columns marked not personal whose values now look personal."""
    if not request.user.has_perm("compliance.view_mappingsuggestion"):
        return None
    from compliance.discovery import open_drift
    from compliance.models import MappingSuggestion

    drift = open_drift()
    others = MappingSuggestion.objects.filter(status=MappingSuggestion.Status.OPEN).exclude(
        kind=MappingSuggestion.Kind.DRIFT
    )
    return {
        "title": "Data map",
        "template": "compliance/dashboard/datamap.html",
        "context": {"drift": drift[:20], "drift_count": len(drift), "open_count": others.count()},
    }
