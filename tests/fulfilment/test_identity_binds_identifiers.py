"""Issue 12 item 2: an account reference is never silently added to a verified email.

The attack, as it happens: an API client posts the attacker's email with the
victim's account reference; the officer verifies, truthfully, that the requester
controls that email, and starts fulfilment from the admin. The bundle and the
erasure must not touch the victim's account, the request must say so, and the
locate step must say which identifiers it used. Once the account's own
verification is recorded, the account is used; and an account whose email is the
requester's is used without any extra step.
"""

import io
import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep
from fulfilment.services.common import bundle_storage
from requests_app.models import RightsRequest
from requests_app.services import api_client_create
from tests.support.platform import platform_rows

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]

ATTACKER = "attacker@evil.example"
LEFT_OUT = "The account reference is left out of locate, export and erasure"


@pytest.fixture
def api(baseline, officer):
    _client, token = api_client_create(name="Support desk", actor=officer)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def staff(client, officer):
    client.force_login(officer)
    return client


def intake(api, *, email: str, account_ref: str, rights: list[str]) -> RightsRequest:
    body = {
        "requester_name": "Requester",
        "requester_email": email,
        "account_ref": account_ref,
        "regime": "uk_gdpr",
        "rights": rights,
        "channel": "support_ticket",
    }
    response = api.post("/api/v1/rights-requests/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return RightsRequest.objects.get(reference=json.loads(response.content)["reference"])


def verify_identity(staff, request: RightsRequest, *, account: bool = False) -> None:
    name = "account_identity" if account else "identity"
    response = staff.post(
        reverse(f"admin:requests_app_rightsrequest_{name}", args=[request.pk]),
        {"identity_method": "knowledge" if account else "email_match", "identity_outcome": "verified", "note": ""},
    )
    assert response.status_code == 302, response.content.decode()


def start(staff, request: RightsRequest, capture) -> None:
    with capture(execute=True):
        response = staff.post(reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk]))
    assert response.status_code == 302


def approve_erasure(staff, request: RightsRequest, capture) -> None:
    for plan in FulfilmentPlan.objects.filter(request=request, status=FulfilmentPlan.Status.AWAITING_APPROVAL):
        with capture(execute=True):
            staff.post(reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk]))


def page(staff, request: RightsRequest) -> str:
    return staff.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()


def bundle_files(request: RightsRequest) -> dict[str, bytes]:
    bundle = ExportBundle.objects.get(request=request)
    assert bundle.status == ExportBundle.Status.READY
    with bundle_storage().open(bundle.file_name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    return {name: archive.read(name) for name in archive.namelist()}


def locate_identifiers(request: RightsRequest) -> str:
    steps = FulfilmentStep.objects.filter(request=request, kind=FulfilmentStep.Kind.LOCATE)
    return " | ".join(step.evidence.get("identifiers", "") for step in steps)


def api_request_ids(files: dict[str, bytes]) -> list[int]:
    lines = files.get("studio-platform/api_requests.jsonl", b"").splitlines()
    return sorted(json.loads(line)["id"] for line in lines)


def test_access_with_someone_elses_account_reference_exports_nothing_of_that_account_until_it_is_verified(
    platform, api, staff, django_capture_on_commit_callbacks
):
    victim = platform.subject
    victim_ids = [
        row[0] for row in platform_rows("api_requests", where="WHERE account_id = %s", params=[int(victim.account_ref)])
    ]
    assert victim_ids  # the victim has data the attacker is after

    attack = intake(api, email=ATTACKER, account_ref=victim.account_ref, rights=["access"])
    verify_identity(staff, attack)  # true: the attacker controls their own address
    assert LEFT_OUT in page(staff, attack)
    start(staff, attack, django_capture_on_commit_callbacks)

    files = bundle_files(attack)
    assert api_request_ids(files) == []
    assert not any(victim.email.encode() in content for content in files.values())
    assert json.loads(files["manifest.json"])["rows_total"] == 0
    used = locate_identifiers(attack)
    assert "requester's email (identity verified)" in used and "account reference left out" in used
    assert "account reference left out" in page(staff, attack)  # the locate step, as shown on the request

    # The account holder proves it is theirs (e.g. details only they know): the account is used.
    claim = intake(api, email=ATTACKER, account_ref=victim.account_ref, rights=["access"])
    verify_identity(staff, claim)
    verify_identity(staff, claim, account=True)
    assert LEFT_OUT not in page(staff, claim)
    start(staff, claim, django_capture_on_commit_callbacks)
    assert api_request_ids(bundle_files(claim)) == victim_ids
    assert "account reference (its own verification recorded)" in locate_identifiers(claim)


def test_erasure_with_someone_elses_account_reference_leaves_that_account_alone_until_it_is_verified(
    platform, api, staff, django_capture_on_commit_callbacks
):
    victim = platform.subject
    account_id = int(victim.account_ref)
    keys_before = platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id])
    accounts_before = platform_rows("accounts", where="WHERE id = %s", params=[account_id])
    assert keys_before

    attack = intake(api, email=ATTACKER, account_ref=victim.account_ref, rights=["erasure"])
    verify_identity(staff, attack)
    start(staff, attack, django_capture_on_commit_callbacks)
    approve_erasure(staff, attack, django_capture_on_commit_callbacks)
    assert platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id]) == keys_before
    assert platform_rows("accounts", where="WHERE id = %s", params=[account_id]) == accounts_before
    assert "account reference left out" in locate_identifiers(attack)

    claim = intake(api, email=ATTACKER, account_ref=victim.account_ref, rights=["erasure"])
    verify_identity(staff, claim)
    verify_identity(staff, claim, account=True)
    start(staff, claim, django_capture_on_commit_callbacks)
    approve_erasure(staff, claim, django_capture_on_commit_callbacks)
    assert platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id]) == []
    assert platform_rows("accounts", where="WHERE id = %s", params=[account_id]) != accounts_before


def test_an_account_whose_email_is_the_requesters_is_used_without_an_extra_step(
    platform, api, staff, django_capture_on_commit_callbacks
):
    owner = platform.subject
    expected = [
        row[0] for row in platform_rows("api_requests", where="WHERE account_id = %s", params=[int(owner.account_ref)])
    ]
    request = intake(api, email=owner.email.upper(), account_ref=owner.account_ref, rights=["access"])
    verify_identity(staff, request)
    assert LEFT_OUT not in page(staff, request)
    start(staff, request, django_capture_on_commit_callbacks)
    assert api_request_ids(bundle_files(request)) == expected
    assert "account reference (its email is the requester's)" in locate_identifiers(request)


def test_an_account_reference_found_nowhere_is_left_out_and_said_so(
    platform, api, staff, django_capture_on_commit_callbacks
):
    request = intake(api, email=platform.subject.email, account_ref="999999", rights=["access"])
    verify_identity(staff, request)
    assert "no system of record could match it" in page(staff, request)
    start(staff, request, django_capture_on_commit_callbacks)
    assert "account reference left out" in locate_identifiers(request)
    # The verified email still finds the requester's own account.
    assert api_request_ids(bundle_files(request))


def test_a_verification_recorded_after_locating_does_not_widen_the_plan_already_located(
    platform, api, staff, django_capture_on_commit_callbacks, settings
):
    settings.ERASURE_APPROVAL_WAIVER = {}
    victim = platform.subject
    account_id = int(victim.account_ref)
    keys_before = platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id])
    request = intake(api, email=ATTACKER, account_ref=victim.account_ref, rights=["erasure"])
    verify_identity(staff, request)
    start(staff, request, django_capture_on_commit_callbacks)
    verify_identity(staff, request, account=True)  # after the locate steps ran
    approve_erasure(staff, request, django_capture_on_commit_callbacks)
    assert platform_rows("api_keys", where="WHERE account_id = %s", params=[account_id]) == keys_before
    assert "was left out of this fulfilment" in page(staff, request)
