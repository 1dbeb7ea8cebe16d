"""The public list (HTML, JSON, CSV) and the Atom feed: no login, public entries only, no internal fields."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from subprocessors.models import Subprocessor, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_announce, subprocessor_change_withdraw
from subprocessors.services.register import processing_location_save
from tests.support.factories import DPAFactory, LocationFactory, SubprocessorFactory

from .conftest import make_active

ATOM = "{http://www.w3.org/2005/Atom}"
# Values only staff may see; none may appear on a public page.
INTERNAL = ["INTERNAL-NOTE-SENTINEL", "risk", "critical", "privacy@", "officer", "hooks.internal", "dpa/", "DPA v"]


@pytest.fixture
def register(active, officer, categories):
    """One vendor in each status, with a pending location and a withdrawn change."""
    active.notes = "INTERNAL-NOTE-SENTINEL"
    active.risk_rating = Subprocessor.RiskRating.CRITICAL
    active.internal_owner = officer
    active.erasure_webhook_url = "https://hooks.internal.example/erase"
    active.save()
    DPAFactory(subprocessor=active, version="DPA v9", document="dpa/secret.pdf")
    pending = processing_location_save(
        location=LocationFactory.build(subprocessor=active, country="JP", mechanism="adequacy"), actor=officer
    )
    subprocessor_change_announce(
        subprocessor=active,
        kind=SubprocessorChange.Kind.NEW_LOCATION,
        summary="Nimbus will also process in Japan.",
        effective_on=timezone.localdate() + timedelta(days=30),
        location=pending,
        actor=officer,
    )
    announced = SubprocessorFactory(trading_name="Cobalt", slug="cobalt", data_categories=[categories["support"]])
    LocationFactory(subprocessor=announced, country="GB")
    DPAFactory(subprocessor=announced)
    subprocessor_change_announce(
        subprocessor=announced,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding Cobalt for fraud scoring.",
        effective_on=timezone.localdate() + timedelta(days=31),
        actor=officer,
    )
    leaving = make_active(
        _ready(SubprocessorFactory(trading_name="Oldpost", slug="oldpost", data_categories=[categories["support"]])),
        officer,
    )
    subprocessor_change_announce(
        subprocessor=leaving,
        kind=SubprocessorChange.Kind.REMOVAL,
        summary="Removing Oldpost.",
        effective_on=timezone.localdate() + timedelta(days=40),
        actor=officer,
    )
    SubprocessorFactory(trading_name="Quill Secret Proposal", slug="quill", status="proposed")
    SubprocessorFactory(trading_name="Gone Vendor", slug="gone", status="retired")
    withdrawn_vendor = _ready(
        SubprocessorFactory(trading_name="Flaky", slug="flaky", data_categories=[categories["support"]])
    )
    withdrawn = subprocessor_change_announce(
        subprocessor=withdrawn_vendor,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding Flaky.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
    )
    subprocessor_change_withdraw(change=withdrawn, reason="Due diligence failed.", actor=officer)


def _ready(sub):
    LocationFactory(subprocessor=sub, country="DE")
    DPAFactory(subprocessor=sub)
    return sub


def test_the_html_list_needs_no_login_and_shows_only_active_announced_and_offboarding_vendors(client, register):
    page = client.get(reverse("subprocessors:list"))
    assert page.status_code == 200
    text = page.content.decode()
    for name in ["Nimbus", "Cobalt", "Oldpost"]:
        assert name in text
    for hidden in ["Quill Secret Proposal", "Gone Vendor", "Flaky"]:
        assert hidden not in text
    assert "Adding Cobalt for fraud scoring." in text
    assert "being removed" in text
    assert "Ireland: None required (UK/EEA)" in text
    assert 'name="email"' in text  # the subscribe form
    assert "Last updated" in text


def test_the_html_list_shows_a_pending_location_only_as_an_upcoming_change(client, register):
    text = client.get(reverse("subprocessors:list")).content.decode()
    assert "Japan: Adequacy decision" not in text
    assert "New processing location: Japan" in text


@pytest.mark.parametrize("name", ["list", "json", "csv"])
def test_public_pages_never_show_internal_fields(client, register, name):
    # The internal values are there to leak: the register holds them...
    nimbus = Subprocessor.objects.get(slug="nimbus")
    assert (nimbus.notes, nimbus.risk_rating) == ("INTERNAL-NOTE-SENTINEL", Subprocessor.RiskRating.CRITICAL)
    assert nimbus.privacy_contact_email.startswith("privacy@") and nimbus.dpas.filter(version="DPA v9").exists()
    response = client.get(reverse(f"subprocessors:{name}"))
    # ...and the page is the real list, not an error page that would show nothing at all.
    assert response.status_code == 200
    text = response.content.decode()
    for public in ["Nimbus", "Cobalt", "Oldpost", "Ireland"]:
        assert public in text, public
    for value in INTERNAL:
        assert value not in text, value


def test_the_json_list_has_the_documented_stable_fields(client, register):
    response = client.get(reverse("subprocessors:json"))
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"schema_version", "last_updated", "notice_period_days", "subprocessors", "upcoming_changes"}
    assert data["schema_version"] == 1
    assert data["notice_period_days"] == 30
    assert [s["id"] for s in data["subprocessors"]] == ["cobalt", "nimbus", "oldpost"]
    nimbus = next(s for s in data["subprocessors"] if s["id"] == "nimbus")
    assert set(nimbus) == {
        "id",
        "name",
        "legal_name",
        "website",
        "category",
        "category_label",
        "service",
        "status",
        "purposes",
        "data_categories",
        "locations",
        "active_since",
        "upcoming_changes",
    }
    assert nimbus["locations"] == [
        {
            "country": "IE",
            "country_name": "Ireland",
            "transfer_mechanism": "none_required",
            "transfer_mechanism_label": "None required (UK/EEA)",
            "scc_module": None,
        }
    ]
    assert {c["id"] for c in nimbus["data_categories"]} == {"account-identity", "api-usage"}
    change = nimbus["upcoming_changes"][0]
    assert set(change) == {
        "id",
        "subprocessor",
        "subprocessor_name",
        "kind",
        "kind_label",
        "target",
        "summary",
        "announced_on",
        "effective_on",
        "status",
    }
    assert change["kind"] == "new_location" and change["target"] == "Japan"
    assert {c["subprocessor"] for c in data["upcoming_changes"]} == {"nimbus", "cobalt", "oldpost"}


def test_the_csv_list_is_for_procurement_and_has_one_row_per_public_vendor(client, register):
    response = client.get(reverse("subprocessors:csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Name", "Legal entity", "Website"]
    assert sorted(r[0] for r in rows[1:]) == ["Cobalt", "Nimbus", "Oldpost"]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client, active):
    active.service_description = '=HYPERLINK("http://evil")'
    active.save()
    rows = list(csv.reader(io.StringIO(client.get(reverse("subprocessors:csv")).content.decode())))
    assert rows[1][4].startswith("'=")


def test_the_feed_is_valid_atom_with_announced_and_effective_changes(client, register):
    response = client.get(reverse("subprocessors:feed"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    # RFC 4287 §4.1.1: a feed has exactly one id, title and updated, and an author (here at feed level).
    for element in ["id", "title", "updated"]:
        assert len(root.findall(f"{ATOM}{element}")) == 1, element
    assert root.find(f"{ATOM}author/{ATOM}name").text == "Studio"
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    entries = root.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    ids = [e.find(f"{ATOM}id").text for e in entries]
    for entry in entries:
        # §4.1.2: every entry has one id, title, updated and a link.
        for element in ["id", "title", "updated"]:
            assert len(entry.findall(f"{ATOM}{element}")) == 1
        assert entry.find(f"{ATOM}link").get("href").startswith("http://testserver/subprocessors/#change-")
        assert entry.find(f"{ATOM}summary") is not None
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("tag:") for i in ids)
    assert any(t.startswith("New subprocessor: Cobalt") and "takes effect" in t for t in titles)
    assert any(t.startswith("New subprocessor: Nimbus") and "took effect" in t for t in titles)
    assert any(t.startswith("Subprocessor removed: Oldpost") for t in titles)
    assert not any("Flaky" in t for t in titles)  # withdrawn


def test_an_empty_feed_is_still_valid_atom(client, db):
    root = ET.fromstring(client.get(reverse("subprocessors:feed")).content)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}updated") is not None
    assert root.findall(f"{ATOM}entry") == []


def test_last_updated_moves_when_a_change_is_announced(client, active, officer, purposes):
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        subprocessor_change_announce(
            subprocessor=active,
            kind=SubprocessorChange.Kind.NEW_PURPOSE,
            summary="Also for support.",
            effective_on=timezone.localdate() + timedelta(days=30),
            purpose=purposes["support"],
            actor=officer,
        )
        expected = timezone.localdate().isoformat()
    assert client.get(reverse("subprocessors:json")).json()["last_updated"].startswith(expected)


def test_the_html_list_gives_change_dates_in_words_while_the_json_keeps_iso_dates(client, register):
    # People read "6 January 2027", as "Last updated" reads; machines read the JSON document's ISO dates.
    cobalt = SubprocessorChange.objects.get(subprocessor__slug="cobalt")
    text = client.get(reverse("subprocessors:list")).content.decode()
    in_words = f"{cobalt.effective_on.day} {cobalt.effective_on:%B %Y}"
    assert f"<strong>{in_words}</strong>" in text and f"from {in_words}" not in text.split("Current subprocessors")[0]
    assert cobalt.effective_on.isoformat() not in text
    assert f"{cobalt.announced_on.day} {cobalt.announced_on:%B %Y}" in text
    document = client.get(reverse("subprocessors:json")).json()
    [entry] = [c for c in document["upcoming_changes"] if c["subprocessor"] == "cobalt"]
    assert entry["effective_on"] == cobalt.effective_on.isoformat()
