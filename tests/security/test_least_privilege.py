"""Least privilege, table-driven: every admin page, admin action, admin step and API endpoint against every
role (compliance officer, support agent, auditor, anonymous), with the protections on as in production
(each staff member logs in with password and second factor).

The page table is ``tests/test_admin_pages.ACCESS``; the tables below add the actions, the admin's own
step pages and the API. A model, action or URL added without a row here fails the coverage tests.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from compliance.services import worker_heartbeat_record
from requests_app.models import RightsRequest
from requests_app.services import api_client_create
from tests.security.conftest import enrolled, full_login
from tests.test_admin_pages import ACCESS, _label, _urls

ROLES = ["officer", "agent", "auditor"]
OFF, AGT, AUD = "officer", "agent", "auditor"

# Admin actions (the changelist's action menu) each role is offered. Anything else a role posts is refused.
ACTIONS: dict[str, dict[str, set[str]]] = {
    # Beat's own admin offered these to anyone who can read the list; compliance/admin.py limits them.
    "django_celery_beat.periodictask": {
        "enable_tasks": {OFF},
        "disable_tasks": {OFF},
        "toggle_tasks": {OFF},
        "run_tasks": {OFF},
        "delete_selected": {OFF},
    },
    **{
        f"django_celery_beat.{name}": {"delete_selected": {OFF}}
        for name in ["clockedschedule", "crontabschedule", "solarschedule", "intervalschedule"]
    },
    "compliance.workerheartbeat": {"delete_selected": {OFF}},
    "compliance.processingactivity": {"export_csv": {OFF, AUD}},
    "compliance.systemofrecord": {
        "check_against_schema": {OFF, AUD},
        "import_columns_from_schema": {OFF},
        "discover_suggestions": {OFF},
    },
    "compliance.mappingsuggestion": {"accept_suggestions": {OFF}, "dismiss_suggestions": {OFF}},
    "compliance.mappedtable": {"check_against_schema": {OFF, AUD}, "import_columns_from_schema": {OFF}},
    "compliance.manualtask": {"cancel_tasks": {OFF}, "reopen_tasks": {OFF}},
    "security.accessevent": {"export_selected_csv": {OFF, AUD}},
    "otp_totp.totpdevice": {"reset_two_factor": set()},
    "otp_static.staticdevice": {"reset_two_factor": set()},
    "jobs.pendingjob": {"send_now": {OFF}},
    "subprocessors.subprocessor": {"drop_proposal": {OFF}, "export_transfer_report": {OFF, AUD}},
    "subprocessors.subprocessorchange": {"make_effective": {OFF}, "withdraw": {OFF}},
    "subprocessors.noticesubscriber": {"unsubscribe": {OFF}},
    "retention.retentionrule": {"dry_run_now": {OFF}, "run_now": {OFF}},
    "retention.retentionrun": {"approve_runs": {OFF}, "cancel_runs": {OFF}},
    "requests_app.rightsrequest": {
        "assign_to_me": {OFF},
        "assign_to": {OFF},
        "recompute_deadlines": {OFF},
        "export_selected_log": {OFF, AGT, AUD},
    },
    "requests_app.apiclient": {"revoke": {OFF}},
    "fulfilment.fulfilmentplan": {"approve_selected": {OFF}},
    "fulfilment.fulfilmentstep": {"retry_selected": {OFF}},
    "fulfilment.downloadlink": {"revoke_selected": {OFF}},
    "fulfilment.recipientnotice": {"record_confirmation": {OFF}, "send_again": {OFF}},
}

# The admin's own pages beyond changelist/add/change: (url name, model whose first demo record is the
# argument or None, method) -> the status each role gets. 200 a page, 302 done (or refused with a
# message) and back, 403 refused, 404 nothing for this role (or no such record in that state).
STEP_VIEWS: list[tuple[str, str | None, str, dict[str, int]]] = [
    ("security_accessevent_export", None, "get", {OFF: 200, AGT: 403, AUD: 200}),
    ("subprocessors_subprocessor_transfer_report", None, "get", {OFF: 200, AGT: 403, AUD: 200}),
    (
        "subprocessors_dataprocessingagreement_document",
        "subprocessors.dataprocessingagreement",
        "get",
        {OFF: 200, AGT: 403, AUD: 200},
    ),
    ("retention_retentionrule_matrix", None, "get", {OFF: 200, AGT: 403, AUD: 200}),
    ("retention_legalhold_release", "retention.legalhold", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("retention_run_approve", "retention.retentionrun", "post", {OFF: 302, AGT: 403, AUD: 403}),
    ("retention_run_cancel", "retention.retentionrun", "post", {OFF: 302, AGT: 403, AUD: 403}),
    ("retention_run_resume", "retention.retentionrun", "post", {OFF: 302, AGT: 403, AUD: 403}),
    ("fulfilment_fulfilmentplan_approve", "fulfilment.fulfilmentplan", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("fulfilment_fulfilmentplan_approve", "fulfilment.fulfilmentplan", "post", {OFF: 302, AGT: 403, AUD: 403}),
    ("fulfilment_fulfilmentplan_edit", "fulfilment.fulfilmentplan", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("fulfilment_fulfilmentstep_retry", "fulfilment.fulfilmentstep", "post", {OFF: 302, AGT: 403, AUD: 403}),
    ("fulfilment_fulfilmentstep_waive", "fulfilment.fulfilmentstep", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("fulfilment_exportbundle_download", "fulfilment.exportbundle", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("fulfilment_exportbundle_new_link", "fulfilment.exportbundle", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("fulfilment_exportbundle_purge", "fulfilment.exportbundle", "post", {OFF: 302, AGT: 403, AUD: 403}),
    (
        "requests_app_rightsrequest_fulfilment_start",
        "requests_app.rightsrequest",
        "post",
        {OFF: 302, AGT: 403, AUD: 403},
    ),
    ("requests_app_rightsrequest_export_log", None, "get", {OFF: 200, AGT: 200, AUD: 200}),
    ("requests_app_rightsrequest_letter", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 200, AUD: 403}),
    ("requests_app_rightsrequest_event", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 200, AUD: 403}),
    ("requests_app_rightsrequest_identity", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 403, AUD: 403}),
    (
        "requests_app_rightsrequest_account_identity",
        "requests_app.rightsrequest",
        "get",
        {OFF: 200, AGT: 403, AUD: 403},
    ),
    ("requests_app_rightsrequest_note", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 200, AUD: 403}),
    ("requests_app_rightsrequest_close", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("requests_app_rightsrequest_regimes", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("requests_app_rightsrequest_appeal", "requests_app.rightsrequest", "get", {OFF: 200, AGT: 200, AUD: 403}),
    ("requests_app_appeal_extend", "requests_app.appeal", "get", {OFF: 200, AGT: 403, AUD: 403}),
    ("requests_app_appeal_decide", "requests_app.appeal", "get", {OFF: 200, AGT: 403, AUD: 403}),
]

# Admin URLs that are not a model's page or one of the steps above, and who may open them.
SITE_VIEWS = {
    "index": {OFF: 200, AGT: 200, AUD: 200},
    "password_change": {OFF: 200, AGT: 200, AUD: 200},
}

# Standard ModelAdmin URL names (covered by ACCESS) and the site's plumbing (covered by Django's own tests).
_STANDARD_SUFFIXES = ("_changelist", "_add", "_change", "_delete", "_history", "_simple_history")
_PLUMBING = {
    "login",
    "logout",
    "password_change_done",
    "autocomplete",
    "view_on_site",
    "app_list",
    "jsi18n",
    "auth_user_password_change",  # a superuser's "set password" form (auth.user is view-only for every role)
}


def _admin_url_names() -> set[str]:
    names = set()

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(pattern.name)

    walk(admin.site.get_urls())
    standard = {
        f"{model._meta.app_label}_{model._meta.model_name}{suffix}"
        for model in admin.site._registry
        for suffix in _STANDARD_SUFFIXES
    }
    return names - standard - _PLUMBING


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.fixture
def demo_data(db, baseline):
    # The adequacy list comes from a data migration, which a transactional test's flush empties.
    import importlib

    from django.apps import apps

    importlib.import_module("subprocessors.migrations.0002_adequacy_list").load(apps, None)
    call_command("load_demo", stdout=__import__("io").StringIO())
    worker_heartbeat_record(worker="celery@demo")


@pytest.fixture
def staff(officer, agent, auditor):
    return {OFF: officer, AGT: agent, AUD: auditor}


def _logged_in(user) -> Client:
    client = Client()
    response = full_login(client, user, enrolled(user))
    assert response.status_code == 302, response.content[:300]
    return client


pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_every_registered_action_and_admin_step_has_a_row():
    declared = {
        (_label(model), name)
        for model, model_admin in admin.site._registry.items()
        for name in (model_admin.actions or [])
        if isinstance(name, str)
    }
    # delete_selected comes from the site, not the ModelAdmin: the per-role test checks where it is offered.
    listed = {(label, name) for label, actions in ACTIONS.items() for name in actions if name != "delete_selected"}
    assert sorted(declared) == sorted(listed)
    assert sorted(_admin_url_names()) == sorted({row[0] for row in STEP_VIEWS} | set(SITE_VIEWS))


def test_each_role_is_offered_exactly_the_actions_the_table_says_and_a_forbidden_one_does_nothing(staff, demo_data):
    problems = []
    for role, user in staff.items():
        client = _logged_in(user)
        for model, model_admin in admin.site._registry.items():
            label = _label(model)
            offered = set(model_admin.get_actions(_request(user)))
            expected = {name for name, roles in ACTIONS.get(label, {}).items() if role in roles}
            if offered != expected:
                problems.append(f"{role} {label}: offered {sorted(offered)}, expected {sorted(expected)}")
            obj = model_admin.get_queryset(_request(user)).first() or model._default_manager.first()
            if obj is None:
                continue
            for name in set(ACTIONS.get(label, {})) - expected:
                changelist = _urls(model)["changelist"]
                response = client.post(changelist, {"action": name, "_selected_action": [obj.pk], "index": 0})
                # Django runs no action it did not offer: with none offered it ignores the post, else it says so.
                ignored = not offered or any(
                    "No action selected" in str(m) for m in get_messages(response.wsgi_request)
                )
                refused = response.status_code == 403 or (response.status_code in (200, 302) and ignored)
                if not refused or not model._default_manager.filter(pk=obj.pk).exists():
                    problems.append(f"{role} {label}: action {name} answered {response.status_code}")
    assert problems == []


def test_each_role_gets_each_admin_page_and_step_as_the_tables_say(staff, demo_data):
    problems = []
    anonymous = Client()
    for role, user in [*staff.items(), ("anonymous", None)]:
        client = _logged_in(user) if user is not None else anonymous
        for model, model_admin in admin.site._registry.items():
            expected = ACCESS[_label(model)].get(role, "none")
            obj = model._default_manager.first()
            urls = _urls(model, obj)
            for page, url in urls.items():
                status = client.get(url).status_code
                if role == "anonymous":
                    wanted = {302}
                elif expected == "none":
                    wanted = {403}
                elif page == "add":
                    can_add = expected in {"add", "change"} and model_admin.has_add_permission(_request(user))
                    wanted = {200} if can_add else {403}
                else:
                    wanted = {200}
                if status not in wanted:
                    problems.append(f"{role} {_label(model)} {page}: {status}, expected {sorted(wanted)}")
        for name, label, method, statuses in STEP_VIEWS:
            args = []
            if label is not None:
                obj = _model(label)._default_manager.order_by("pk").first()
                assert obj is not None, f"the demo has no {label} for {name}"
                args = [obj.pk]
            url = reverse(f"admin:{name}", args=args)
            status = getattr(client, method)(url).status_code
            wanted = 302 if role == "anonymous" else statuses[role]
            if status != wanted:
                problems.append(f"{role} {name} ({method.upper()}): {status}, expected {wanted}")
        for name, statuses in SITE_VIEWS.items():
            status = client.get(reverse(f"admin:{name}")).status_code
            wanted = 302 if role == "anonymous" else statuses[role]
            if status != wanted:
                problems.append(f"{role} {name}: {status}, expected {wanted}")
    assert problems == []


# The API: bearer tokens only. Staff sessions are not API credentials; a client sees only its own requests.
API_BODY = {
    "requester_email": "api.person@example.com",
    "requester_name": "Api Person",
    "regime": "uk_gdpr",
    "rights": ["access"],
}
API_ROLES = ["anonymous", OFF, AGT, AUD, "client", "other_client"]
API_TABLE: list[tuple[str, str, str, dict[str, int]]] = [
    # (method, path, body, status per caller)
    ("post", "/api/v1/rights-requests/", "create", {"client": 201, "other_client": 201}),
    ("get", "/api/v1/rights-requests/{ref}/", "", {"client": 200, "other_client": 404}),
    ("post", "/api/v1/rights-requests/{ref}/events/", "event", {"client": 201, "other_client": 404}),
    # The table's request is not answered yet: its own client reaches the appeal checks (400), no one else.
    ("post", "/api/v1/rights-requests/{ref}/appeals/", "appeal", {"client": 400, "other_client": 404}),
    ("get", "/api/v1/rights-requests/", "", {"client": 405, "other_client": 405}),
    ("get", "/api/schema/", "", {r: 200 for r in API_ROLES}),
    ("get", "/api/docs/", "", {r: 200 for r in API_ROLES}),
]
PUBLIC_PAGES = [
    "/subprocessors/",
    "/subprocessors.json",
    "/subprocessors.csv",
    "/subprocessors/feed/",
]


def test_every_api_route_is_in_the_table():
    routes = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif str(pattern.pattern).startswith("api/") or prefix.startswith("api/"):
                routes.add(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    listed = {path.replace("{ref}", "<str:reference>").lstrip("/") for _, path, _, _ in API_TABLE}
    assert routes == listed


def test_each_caller_gets_each_api_endpoint_as_the_table_says(staff, baseline):
    _, token = api_client_create(name="Support desk", actor=staff[OFF])
    _, other_token = api_client_create(name="Web form", actor=staff[OFF])
    own = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = own.post("/api/v1/rights-requests/", API_BODY, content_type="application/json")
    assert response.status_code == 201
    reference = response.json()["reference"]
    callers = {
        "anonymous": Client(),
        "client": own,
        "other_client": Client(HTTP_AUTHORIZATION=f"Bearer {other_token}"),
    }
    for role, user in staff.items():
        callers[role] = _logged_in(user)  # a verified admin session, which the API does not accept
    bodies = {
        "create": API_BODY,
        "event": {"type": "acknowledged"},
        "appeal": {"statement": "I disagree."},
        "": None,
    }
    problems = []
    for method, path, body, statuses in API_TABLE:
        url = path.format(ref=reference)
        for caller in API_ROLES:
            kwargs = {"content_type": "application/json", "data": bodies[body]} if method == "post" else {}
            status = getattr(callers[caller], method)(url, **kwargs).status_code
            wanted = statuses.get(caller, 401)
            if status != wanted:
                problems.append(f"{caller} {method.upper()} {path}: {status}, expected {wanted}")
    assert problems == []
    # Nothing a refused caller sent was stored: one request from the table's create by each client, plus ours.
    assert RightsRequest.objects.count() == 3


def test_the_public_pages_are_open_to_anyone_without_a_session(baseline):
    anonymous = Client()
    for path in PUBLIC_PAGES:
        response = anonymous.get(path)
        assert response.status_code == 200, path
        assert "sessionid" not in response.cookies, path
