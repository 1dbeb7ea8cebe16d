"""Every registered ModelAdmin renders its changelist, add and change pages,
and every role gets exactly the access the table below says."""

from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from compliance.services import worker_heartbeat_record

# Access each role has to each admin model: "none", "view", "add" (add + view) or "change" (everything
# including add). Every registered model must appear here: adding a model to the admin means deciding.
ACCESS = {
    "compliance.datacategory": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.processingpurpose": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.legalbasis": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.subjecttype": {"officer": "change", "agent": "view", "auditor": "view"},
    "compliance.right": {"officer": "change", "agent": "view", "auditor": "view"},
    "compliance.regime": {"officer": "change", "agent": "view", "auditor": "view"},
    "compliance.processingactivity": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.workerheartbeat": {"officer": "view", "agent": "view", "auditor": "view"},
    "compliance.systemofrecord": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.mappedtable": {"officer": "change", "agent": "none", "auditor": "view"},
    "compliance.manualtask": {"officer": "change", "agent": "none", "auditor": "view"},
    # Suggestions are made by discovery and the drift check; officers accept or dismiss them by action.
    "compliance.mappingsuggestion": {"officer": "view", "agent": "none", "auditor": "view"},
    "retention.retentionrule": {"officer": "change", "agent": "none", "auditor": "view"},
    "retention.legalhold": {"officer": "change", "agent": "none", "auditor": "view"},
    # Runs are made by beat and the services; officers approve or cancel them with buttons, nobody edits one.
    "retention.retentionrun": {"officer": "view", "agent": "none", "auditor": "view"},
}
# Third-party admin pages staff reach; listed so the access table stays complete.
ACCESS.update(
    {
        f"django_celery_beat.{name}": {"officer": "change", "agent": "none", "auditor": "view"}
        for name in ["periodictask", "intervalschedule", "crontabschedule", "solarschedule", "clockedschedule"]
    }
)
ACCESS.update(
    {
        "auth.user": {"officer": "view", "agent": "none", "auditor": "view"},
        "auth.group": {"officer": "view", "agent": "none", "auditor": "view"},
    }
)
# The access audit is read-only for everyone; second-factor devices are for superusers only.
ACCESS.update(
    {
        "security.accessevent": {"officer": "view", "agent": "none", "auditor": "view"},
        "otp_totp.totpdevice": {"officer": "none", "agent": "none", "auditor": "none"},
        "otp_static.staticdevice": {"officer": "none", "agent": "none", "auditor": "none"},
    }
)
# Rights requests: agents log and read requests, read lines; only officers change them.
ACCESS.update(
    {
        "requests_app.rightsrequest": {"officer": "change", "agent": "add", "auditor": "view"},
        "requests_app.requestline": {"officer": "change", "agent": "view", "auditor": "view"},
        "requests_app.apiclient": {"officer": "change", "agent": "none", "auditor": "view"},
        # Appeals: agents log them from the request's page (a step) and read them; officers assign them here
        # and extend or decide them with the page's steps; nobody adds one without its request.
        "requests_app.appeal": {"officer": "change", "agent": "view", "auditor": "view"},
    }
)
# Subprocessor register: officers keep it; the worker's evidence (notices sent, reminders, digests)
# is read-only for everyone; agents see none of it (the public list is enough for them).
ACCESS.update(
    {
        f"subprocessors.{name}": {"officer": "change", "agent": "none", "auditor": "view"}
        for name in [
            "subprocessor",
            "subprocessorchange",
            "changeobjection",
            "customercontract",
            "adequacydecision",
            "noticesubscriber",
        ]
    }
)
ACCESS.update(
    {
        f"subprocessors.{name}": {"officer": "view", "agent": "none", "auditor": "view"}
        for name in ["changenoticedelivery", "expiryreminder", "registerdigest"]
    }
)
# The access audit is read-only for everyone; second-factor devices are for superusers only.
ACCESS.update(
    {
        "security.accessevent": {"officer": "view", "agent": "none", "auditor": "view"},
        "otp_totp.totpdevice": {"officer": "none", "agent": "none", "auditor": "none"},
        "otp_static.staticdevice": {"officer": "none", "agent": "none", "auditor": "none"},
    }
)

# Fulfilment: officers approve plans, retry or waive steps, create and revoke links, record confirmations
# (all through buttons and actions); the erasure ledger is evidence nobody edits; agents see none of it.
ACCESS.update(
    {
        f"fulfilment.{name}": {"officer": "change", "agent": "none", "auditor": "view"}
        for name in ["fulfilmentplan", "fulfilmentstep", "exportbundle", "downloadlink", "recipientnotice"]
    }
)
ACCESS["fulfilment.erasureledgerentry"] = {"officer": "view", "agent": "none", "auditor": "view"}

# The outbox: officers and auditors see what waits for the broker; officers may send it now (an action).
ACCESS["jobs.pendingjob"] = {"officer": "view", "agent": "none", "auditor": "view"}

# Models the demo has no reason to fill; their change page is covered by the changelist and add pages.
# Mapping suggestions exist only once discovery or the drift check found something (the demo's map is
# complete): tests/compliance/test_discovery.py opens their list and change pages on a schema that has some.
NO_DEMO_INSTANCE_NEEDED = {
    "django_celery_beat.solarschedule",
    "django_celery_beat.clockedschedule",
    "compliance.mappingsuggestion",
}


def _label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _urls(model, obj=None):
    info = (model._meta.app_label, model._meta.model_name)
    urls = {
        "changelist": reverse("admin:{}_{}_changelist".format(*info)),
        "add": reverse("admin:{}_{}_add".format(*info)),
    }
    if obj is not None:
        urls["change"] = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    return urls


# The demo seeds the sample platform database and loads its data map: every test here may reach it.
pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def demo_data(db, baseline):
    call_command("load_demo", stdout=StringIO())
    worker_heartbeat_record(worker="celery@demo")


def test_the_demo_says_where_it_is_served(baseline, settings):
    # SITE_URL follows WEB_PORT when not set (tests/test_config_env.py); the demo prints it, not a fixed port.
    settings.SITE_URL = "http://127.0.0.1:8123"
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "Demo ready at http://127.0.0.1:8123/admin/" in out.getvalue()


def test_access_table_covers_every_registered_model():
    assert sorted(_label(m) for m in admin.site._registry) == sorted(ACCESS)


def test_every_admin_page_renders_for_a_superuser(client, superuser, demo_data):
    client.force_login(superuser)
    problems = []
    for model, model_admin in admin.site._registry.items():
        obj = model_admin.get_queryset(_request(superuser)).first()
        if obj is None and _label(model) not in NO_DEMO_INSTANCE_NEEDED:
            problems.append(f"{_label(model)}: no demo instance to open the change page")
        for page, url in _urls(model, obj).items():
            if page == "add" and not model_admin.has_add_permission(_request(superuser)):
                continue
            response = client.get(url)
            if response.status_code != 200:
                problems.append(f"{_label(model)} {page}: {response.status_code}")
    assert problems == []


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("role", ["officer", "agent", "auditor"])
def test_each_role_gets_the_access_the_table_says(client, role, request, demo_data):
    user = request.getfixturevalue(role)
    client.force_login(user)
    problems = []
    for model, model_admin in admin.site._registry.items():
        expected = ACCESS[_label(model)][role]
        obj = model_admin.get_queryset(_request(user)).first()
        urls = _urls(model, obj)
        changelist = client.get(urls["changelist"]).status_code
        if changelist != (403 if expected == "none" else 200):
            problems.append(f"{_label(model)} changelist: {changelist} for {expected}")
        add = client.get(urls["add"]).status_code
        add_allowed = expected in {"add", "change"} and model_admin.has_add_permission(_request(user))
        if expected in {"none", "view"} and add != 403:
            problems.append(f"{_label(model)} add: {add} for {expected}")
        if add_allowed and add != 200:
            problems.append(f"{_label(model)} add: {add} for {expected}")
        if "change" in urls:
            response = client.get(urls["change"])
            if expected == "none" and response.status_code != 403:
                problems.append(f"{_label(model)} change page: {response.status_code} for none")
            if expected != "none":
                can_save = b'name="_save"' in response.content
                if response.status_code != 200 or can_save != (expected == "change"):
                    problems.append(f"{_label(model)} change page: {response.status_code}, save={can_save}")
    assert problems == []
