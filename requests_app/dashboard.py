"""The rights-request panel on the admin dashboard."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from requests_app.selectors import NEXT_DAYS, dashboard_figures

# One colour per right, in the rights' display order (colour-blind-safe palette).
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000", "#999999"]
CHART_HEIGHT = 140
BAR_WIDTH = 12
WEEK_GAP = 12


def _chart(figures) -> dict:
    """Stacked bars (received, then closed) per week, as rectangles for an inline SVG."""
    colours = {right: PALETTE[i % len(PALETTE)] for i, right in enumerate(figures.rights)}
    scale = CHART_HEIGHT / figures.max_weekly if figures.max_weekly else 0
    bars = []
    x = 30
    for week in figures.weekly:
        for kind, offset in (("received", 0), ("closed", BAR_WIDTH + 2)):
            y = CHART_HEIGHT
            for right in figures.rights:
                count = week[kind].get(right, 0)
                if not count:
                    continue
                height = count * scale
                y -= height
                bars.append(
                    {
                        "x": x + offset,
                        "y": round(y, 1),
                        "height": round(height, 1),
                        "colour": colours[right],
                        "opacity": 1 if kind == "received" else 0.55,
                        "title": f"Week of {week['week']:%d %b}: {count} {right} {kind}",
                    }
                )
        bars.append({"label": f"{week['week']:%d %b}", "label_x": x + BAR_WIDTH, "week": week})
        x += 2 * BAR_WIDTH + 2 + WEEK_GAP
    return {
        "bars": [bar for bar in bars if "label" not in bar],
        "labels": [bar for bar in bars if "label" in bar],
        "width": x + 10,
        "height": CHART_HEIGHT + 30,
        "baseline": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
        "legend": [(right, colours[right]) for right in figures.rights],
        "max": figures.max_weekly,
    }


def _due_column() -> int:
    """The request list's ?o= index of its due-date column (0 is the action checkbox)."""
    from requests_app.admin import RightsRequestAdmin

    return RightsRequestAdmin.list_display.index("due") + 1


def rights_requests_panel(request):
    if not request.user.has_perm("requests_app.view_rightsrequest"):
        return None
    today = timezone.localdate()
    figures = dashboard_figures(today=today)
    changelist = reverse("admin:requests_app_rightsrequest_changelist")
    return {
        "title": "Rights requests",
        "template": "requests_app/dashboard/panel.html",
        "context": {
            "figures": figures,
            "chart": _chart(figures),
            "sla_links": [
                (state, label, count, f"{changelist}?{urlencode({'sla': state})}")
                for state, label, count in figures.open_by_sla
            ],
            "changelist_url": changelist,
            "open_url": f"{changelist}?open=yes",
            "due_soon_url": f"{changelist}?"
            + urlencode({"open": "yes", "due_date_from": today, "due_date_to": today + NEXT_DAYS, "o": _due_column()}),
            "export_url": reverse("admin:requests_app_rightsrequest_export_log"),
            "appeals_url": reverse("admin:requests_app_appeal_changelist"),
            "appeal_sla_links": [
                (state, label, count, f"{reverse('admin:requests_app_appeal_changelist')}?{urlencode({'sla': state})}")
                for state, label, count in figures.appeals.open_by_sla
            ]
            if figures.appeals
            else [],
        },
    }
