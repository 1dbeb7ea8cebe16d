"""End to end on the sample platform in PostgreSQL: locate, plan, export bundle, erasure, notices."""

import csv
import hashlib
import io
import json
import zipfile

import pytest
from django.core import mail

from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep, LocatedTable
from fulfilment.services import fulfilment_start, plan_approve
from fulfilment.services.common import bundle_storage
from tests.support.platform import SCRIPT_PROMPT, platform_rows, platform_values

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _bundle_zip(bundle: ExportBundle) -> zipfile.ZipFile:
    with bundle_storage().open(bundle.file_name, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def test_access_request_bundle_holds_exactly_the_subjects_rows_with_matching_checksums(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)

    bundle = ExportBundle.objects.get(request=request)
    assert bundle.status == ExportBundle.Status.READY
    archive = _bundle_zip(bundle)
    assert archive.testzip() is None
    assert hashlib.sha256(bundle_storage().open(bundle.file_name, "rb").read()).hexdigest() == bundle.sha256

    account_id = int(platform.subject.account_ref)
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    requests_rows = [json.loads(line) for line in archive.read("studio-platform/api_requests.jsonl").splitlines()]
    expected_ids = [row[0] for row in platform_rows("api_requests", where="WHERE account_id = %s", params=[account_id])]
    assert sorted(row["id"] for row in requests_rows) == expected_ids
    assert {row["account_id"] for row in requests_rows} == {account_id}
    csv_rows = list(csv.DictReader(io.StringIO(archive.read("studio-platform/api_requests.csv").decode())))
    assert sorted(int(row["id"]) for row in csv_rows) == expected_ids
    prompts = [json.loads(line)["content"] for line in archive.read("studio-platform/prompts.jsonl").splitlines()]
    assert SCRIPT_PROMPT in prompts

    html = archive.read("index.html").decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html

    line = request.lines.get()
    assert line.status == "completed" and line.outcome == "fulfilled"
    assert [m.to for m in mail.outbox if "ready to download" in m.subject] == [[platform.subject.email]]


def test_erasure_waits_for_approval_then_masks_deletes_and_keeps_invoices(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    account_id = int(platform.subject.account_ref)
    other_before = platform_rows("api_requests", where="WHERE account_id <> %s", params=[account_id])
    invoices_before = platform_rows("invoices", where="WHERE account_id = %s", params=[account_id])
    request = open_request(platform.subject, ["erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request)
    assert plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL
    assert LocatedTable.objects.filter(request=request, table__table_name="api_requests").get().rows > 0
    assert not FulfilmentStep.objects.filter(request=request, kind="erase").exists()
    actions = {entry["table"]: entry["action"] for entry in plan.tables}
    # Invoices inside their rule's period are kept (all of the seeded ones); older ones would be masked.
    assert actions["invoices"] == "mask" and actions["prompts"] == "delete" and actions["accounts"] == "mask"
    invoices_entry = next(entry for entry in plan.tables if entry["table"] == "invoices")
    assert invoices_entry["keep_rows"] and invoices_entry["restriction"]["table"] == "accounts"

    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)

    plan.refresh_from_db()
    assert plan.status == FulfilmentPlan.Status.COMPLETED
    steps = list(FulfilmentStep.objects.filter(request=request, kind="erase"))
    assert {s.status for s in steps} == {"done"}
    assert platform_rows("invoices", where="WHERE account_id = %s", params=[account_id]) == invoices_before
    assert platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id]) == []
    masked = platform_values("SELECT ip_address, user_agent FROM api_requests WHERE account_id = %s", [account_id])
    assert masked and set(masked) == {(None, None)}
    assert platform_rows("api_requests", where="WHERE account_id <> %s", params=[account_id]) == other_before
    line = request.lines.get()
    assert line.outcome == "partially_fulfilled"
    assert "We kept your billing and transaction data because invoices are VAT records" in line.outcome_reason
    assert "VAT Notice 700/21" in line.outcome_reason and "rows" not in line.outcome_reason
    notices = {n.subprocessor.slug for n in request.recipient_notices.all()}
    assert notices == {"inferco", "helpdesk"}


def test_a_subject_found_nowhere_gets_a_bundle_saying_so(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    from compliance.connectors import Subject

    request = open_request(Subject(email="never.seen@example.net"), ["access"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    bundle = ExportBundle.objects.get(request=request)
    archive = _bundle_zip(bundle)
    assert archive.namelist() == ["index.html", "manifest.json"]
    assert "We found no personal data about you" in archive.read("index.html").decode()
    assert json.loads(archive.read("manifest.json"))["rows_total"] == 0
    assert request.lines.get().outcome == "fulfilled"


def test_the_bundle_page_names_the_controller_holding_the_data_not_the_back_office(
    platform, open_request, officer, django_capture_on_commit_callbacks, settings
):
    # The requester's data is held by the controller they asked ("Studio"), not by the internal tool that
    # assembled the copy (SITE_NAME): the page's title, heading and "nobody outside ..." all name the controller.
    settings.SITE_NAME = "Internal tool XYZ"
    settings.CONTROLLER_NAME = "Acme"
    request = open_request(platform.subject, ["access"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    html = _bundle_zip(ExportBundle.objects.get(request=request)).read("index.html").decode()
    assert "<h1>Your data held by Acme</h1>" in html
    assert "Internal tool XYZ" not in html
