"""The access audit: what other apps record, what officers and auditors see and export, what nobody can do."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.urls import reverse

from security.models import AccessEvent
from security.selectors import access_events_for_object
from security.services import access_event_record


@pytest.fixture(autouse=True)
def _password_only(protections_on):
    # These tests are about the audit, not the login: force_login sessions are enough here.
    protections_on.ADMIN_2FA_REQUIRED = False


def test_an_event_names_its_object_by_type_and_id_with_the_clients_address(rf, officer, agent):
    request = rf.get("/", REMOTE_ADDR="198.51.100.4")
    group = Group.objects.first()
    event = access_event_record(
        actor=officer, action=AccessEvent.Action.VIEWED_PERSONAL_FIELDS, obj=group, request=request, detail="lines 3"
    )
    event.refresh_from_db()
    assert event.content_type == ContentType.objects.get_for_model(Group)
    assert event.object_id == str(group.pk)
    assert event.ip_address == "198.51.100.4"
    assert event.object_label == f"group #{group.pk}"
    assert group.name not in str(event) and group.name not in event.object_label
    assert list(access_events_for_object(group)) == [event]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "peeked"}, "unknown access action"),
        ({"action": "exported_log", "detail": "sent to jane.doe@example.com"}, "must not contain personal data"),
    ],
)
def test_the_service_refuses_unknown_actions_and_personal_data_in_detail(officer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        access_event_record(actor=officer, **kwargs)
    assert not AccessEvent.objects.exists()


def test_the_database_refuses_an_unknown_action_or_half_an_object(officer):
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessEvent.objects.create(actor=officer, action="peeked")
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessEvent.objects.create(actor=officer, action="exported_log", object_id="12")


def _events(officer, count: int = 3):
    group = Group.objects.first()
    return [
        access_event_record(actor=officer, action=AccessEvent.Action.DOWNLOADED_BUNDLE, obj=group, detail=f"bundle {n}")
        for n in range(count)
    ]


@pytest.mark.parametrize("role", ["officer", "auditor"])
def test_officers_and_auditors_read_the_trail_and_nobody_can_add_change_or_delete(client, role, request, officer):
    event = _events(officer, 1)[0]
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("admin:security_accessevent_changelist")).status_code == 200
    page = client.get(reverse("admin:security_accessevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert (
        client.post(reverse("admin:security_accessevent_change", args=[event.pk]), {"detail": "x"}).status_code == 403
    )
    assert client.get(reverse("admin:security_accessevent_add")).status_code == 403
    assert (
        client.post(reverse("admin:security_accessevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    )
    assert AccessEvent.objects.get(pk=event.pk).detail == "bundle 0"


def test_not_even_a_superuser_can_delete_an_event(client, superuser, officer):
    events = _events(officer, 2)
    client.force_login(superuser)
    assert (
        client.post(reverse("admin:security_accessevent_delete", args=[events[0].pk]), {"post": "yes"}).status_code
        == 403
    )
    response = client.post(
        reverse("admin:security_accessevent_changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in events], "post": "yes"},
    )
    assert response.status_code in {200, 302}
    assert AccessEvent.objects.count() == 2
    page = client.get(reverse("admin:security_accessevent_changelist"))
    assert b'value="delete_selected"' not in page.content


def test_support_agents_cannot_see_the_trail(client, agent, officer):
    _events(officer, 1)
    client.force_login(agent)
    assert client.get(reverse("admin:security_accessevent_changelist")).status_code == 403
    assert client.get(reverse("admin:security_accessevent_export")).status_code == 403


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_follows_the_list_filters_and_is_itself_recorded(client, auditor, officer):
    _events(officer, 3)
    access_event_record(actor=officer, action=AccessEvent.Action.APPROVED_PLAN, obj=officer, detail="=HYPERLINK(1)")
    client.force_login(auditor)
    response = client.get(reverse("admin:security_accessevent_export"), {"action__exact": "approved_plan"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="access-events.csv"'
    rows = _csv(response)
    assert [row["action"] for row in rows] == ["approved_plan"]
    assert rows[0]["actor"] == officer.username
    assert rows[0]["object_type"] == "auth.user"
    assert rows[0]["detail"] == "'=HYPERLINK(1)"  # a spreadsheet will not run it
    export = AccessEvent.objects.get(action=AccessEvent.Action.EXPORTED_LOG)
    assert (export.actor, export.detail) == (auditor, "1 access events (filtered list)")


def test_the_changelist_links_the_export_with_its_filters(client, officer):
    _events(officer, 1)
    client.force_login(officer)
    page = client.get(reverse("admin:security_accessevent_changelist"), {"action__exact": "downloaded_bundle"})
    assert f"{reverse('admin:security_accessevent_export')}?action__exact=downloaded_bundle".encode() in page.content


def test_selected_events_export_as_csv(client, officer):
    events = _events(officer, 3)
    client.force_login(officer)
    response = client.post(
        reverse("admin:security_accessevent_changelist"),
        {"action": "export_selected_csv", "_selected_action": [events[0].pk, events[2].pk]},
    )
    assert sorted(row["detail"] for row in _csv(response)) == ["bundle 0", "bundle 2"]


def test_the_trail_lists_in_a_fixed_number_of_queries(client, officer, django_assert_max_num_queries):
    client.force_login(officer)
    _events(officer, 5)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("admin:security_accessevent_changelist"))
    _events(officer, 60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("admin:security_accessevent_changelist")).status_code == 200


def test_the_object_type_filter_offers_only_types_that_have_events(client, officer):
    _events(officer, 1)  # on a group
    client.force_login(officer)
    page = client.get(reverse("admin:security_accessevent_changelist"))
    group_type = ContentType.objects.get_for_model(Group)
    permission_type = ContentType.objects.get(app_label="auth", model="permission")
    assert f"content_type__id__exact={group_type.pk}".encode() in page.content
    assert f"content_type__id__exact={permission_type.pk}".encode() not in page.content
