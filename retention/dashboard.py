"""Retention's panel on the admin dashboard: approvals waiting, sweeps in progress, failures, gaps."""

from __future__ import annotations

from retention.selectors import retention_matrix, runs_needing_attention


def retention_panel(request):
    if not request.user.has_perm("retention.view_retentionrun"):
        return None
    return {
        "title": "Retention",
        "template": "retention/dashboard/panel.html",
        "context": {
            "attention": runs_needing_attention(),
            "gaps": len(retention_matrix().tables_without_rule),
        },
    }
