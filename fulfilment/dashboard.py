"""The fulfilment panel of the admin dashboard: what waits on staff, what failed."""

from __future__ import annotations

from fulfilment.selectors import dashboard_counts


def fulfilment_panel(request):
    if not request.user.has_perm("fulfilment.view_fulfilmentstep"):
        return None
    return {
        "title": "Fulfilment",
        "template": "fulfilment/dashboard/panel.html",
        "context": {"counts": dashboard_counts()},
    }
