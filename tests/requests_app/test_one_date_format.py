"""One date format for people (issue 11): the request list, the request's page and its timeline, its history,
the letter and the names of its records write a date as "3 September 2025", never "2025-09-03" or
"03 Sep 2025"."""

import re

import time_machine
from django.urls import reverse
from django.utils.formats import date_format

from requests_app.services import communication_deliver, communication_send, request_note_add
from tests.requests_app.conftest import aware

ISO = re.compile(r"\b20\d\d-\d\d-\d\d\b")
SHORT = re.compile(r"\b\d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d\b")


def _text(html: str) -> str:
    """What a person reads: no tags (so no input values or attributes), no scripts or styles."""
    html = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_list_page_timeline_history_and_letter_write_dates_one_way(client, officer, open_request):
    with time_machine.travel(aware(2025, 9, 3, 11), tick=False):
        request = open_request(received_at=aware(2025, 9, 3))
        letter = communication_send(request=request, template="acknowledgement", actor=officer)
        communication_deliver(communication_id=letter.pk)
        request_note_add(request=request, body="Called the requester.", actor=officer)
    with time_machine.travel(aware(2025, 9, 4, 9), tick=False):
        client.force_login(officer)
        pages = {
            "list": client.get(reverse("admin:requests_app_rightsrequest_changelist")),
            "page": client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])),
            "history": client.get(reverse("admin:requests_app_rightsrequest_history", args=[request.pk])),
        }
    texts = {name: _text(response.content.decode()) for name, response in pages.items()}
    texts["letter"] = letter.body
    assert all(response.status_code == 200 for response in pages.values())
    for name in ("list", "page"):
        assert "3 September 2025" in texts[name], name
    assert str(letter) == "Acknowledgement (3 September 2025)"
    assert str(request.events.order_by("at").first()).endswith("at 3 September 2025, 10:00")
    assert "3 October 2025" in texts["letter"]
    for name, text in texts.items():
        assert not ISO.search(text), (name, ISO.search(text).group(0))
        assert not SHORT.search(text), (name, SHORT.search(text).group(0))


def test_the_request_page_says_how_far_each_open_deadline_is(client, officer, open_request):
    """ "12 days left" wherever a due date is shown: the answer, the target and the acknowledgement."""
    request = open_request(regime=None, requester_country="US", requester_region="CA", rights=["access"])
    request.refresh_from_db()
    assert request.acknowledge_by is not None and request.target_date is not None
    with time_machine.travel(request.received_at, tick=False):
        client.force_login(officer)
        page = _text(client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode())
    page = " ".join(page.split())
    for label, day in [
        ("Acknowledge by:", request.acknowledge_by),
        ("Target date:", request.target_date),
        ("Due:", request.due_date),
    ]:
        assert re.search(rf"{label} {date_format(day)} \(\d+ days left\)", page), (label, day)
