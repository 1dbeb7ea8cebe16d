"""The outbox's panel on the admin dashboard: shown only while jobs wait for the broker."""

from __future__ import annotations

from jobs.selectors import outbox_state


def outbox_panel(request):
    if not request.user.has_perm("jobs.view_pendingjob"):
        return None
    state = outbox_state()
    if not state.waiting:
        return None
    return {
        "title": "Jobs waiting for the broker",
        "template": "jobs/dashboard/panel.html",
        "context": {"state": state},
    }
