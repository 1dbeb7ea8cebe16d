"""The register's panel on the admin dashboard."""

from __future__ import annotations

from subprocessors.selectors import due_items, register_counts


def register_panel(request):
    if not request.user.has_perm("subprocessors.view_subprocessor"):
        return None
    due = due_items()
    return {
        "title": "Subprocessor register",
        "template": "subprocessors/dashboard/register.html",
        "context": {
            "counts": register_counts(),
            "due": due,
            "reviews_overdue": sum(1 for dpa in due.dpa_reviews if dpa.review_on < due.today),
            "reviews_due": sum(1 for dpa in due.dpa_reviews if dpa.review_on >= due.today),
        },
    }
