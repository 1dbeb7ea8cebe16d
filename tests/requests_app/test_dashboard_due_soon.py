"""The dashboard counts the requests due in the next 7 days, whatever the day of the week (issue 11: on a
Sunday "0 due this week" hid two requests due in 3 days), and links to exactly those, soonest first."""

import datetime as dt
import re
from html import unescape

import time_machine
from django.urls import reverse

from tests.requests_app.conftest import aware


def test_on_a_sunday_the_dashboard_counts_and_links_the_requests_due_in_the_next_7_days(client, officer, open_request):
    soon = [
        open_request(received_at=aware(2025, 9, 22), email="first@example.com"),
        open_request(received_at=aware(2025, 9, 22, 11), email="second@example.com"),
    ]
    later = open_request(received_at=aware(2025, 10, 1), email="later@example.com")
    assert {request.due_date for request in soon} == {dt.date(2025, 10, 22)}  # a Wednesday
    with time_machine.travel(aware(2025, 10, 19, 12), tick=False):  # a Sunday
        assert dt.date(2025, 10, 19).weekday() == 6
        client.force_login(officer)
        page = client.get(reverse("admin:index")).content.decode()
        link = re.search(r'<a href="([^"]+)"><strong>(\d+)</strong> due in the next 7 days</a>', page)
        assert link is not None and link.group(2) == "2"
        listed = client.get(unescape(link.group(1)))
        refs = [request.reference for request in listed.context["cl"].result_list]
    assert sorted(refs) == sorted(request.reference for request in soon)
    assert later.reference not in refs
    assert "3 days left" in listed.content.decode()
