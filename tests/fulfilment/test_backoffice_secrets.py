"""The attack of issue 12 (1), played to the end: staff password hashes and TOTP keys never reach a bundle.

An officer maps ``auth_user`` and ``otp_totp_totpdevice`` of the back office, logs an access request for a
staff address, verifies it and starts fulfilment. The admin refuses the mapping
(``tests/compliance/test_backoffice_tables.py``); here the rows are in the map anyway (put there past
every check), and fulfilment through the admin still exports nothing of them.
"""

import io
import zipfile

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import DataCategory, MappedColumn, MappedTable, SystemOfRecord
from fulfilment.models import ExportBundle, FulfilmentStep
from fulfilment.services.common import bundle_storage

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _smuggle_secret_tables() -> SystemOfRecord:
    back_office = SystemOfRecord.objects.create(
        name="Back office", slug="back-office", owner="Privacy team", kind="sql", database_alias="default"
    )
    identity = DataCategory.objects.get(slug="account-identity")
    users = MappedTable.objects.create(
        system=back_office, table_name="auth_user", subject_column="email", subject_key="email"
    )
    for name in ["id", "email", "password", "username"]:
        MappedColumn.objects.create(table=users, name=name, data_category=identity)
    devices = MappedTable.objects.create(
        system=back_office, table_name="otp_totp_totpdevice", parent=users, parent_column="user_id"
    )
    for name in ["id", "user_id", "key"]:
        MappedColumn.objects.create(table=devices, name=name, data_category=identity)
    return back_office


def _bundle_bytes() -> list[bytes]:
    contents = []
    for bundle in ExportBundle.objects.exclude(file_name=""):
        with bundle_storage().open(bundle.file_name, "rb") as handle:
            archive = zipfile.ZipFile(io.BytesIO(handle.read()))
        contents.extend(archive.read(name) for name in archive.namelist())
    return contents


def test_fulfilment_of_a_staff_address_exports_no_password_hash_or_totp_key(
    client, platform, open_request, officer, django_capture_on_commit_callbacks
):
    from compliance.connectors import Subject

    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    back_office = _smuggle_secret_tables()
    password_hash = officer.password
    request = open_request(Subject(email=officer.email), ["access"])
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk]))
    assert response.status_code == 302

    step = FulfilmentStep.objects.get(request=request, system=back_office, kind="locate")
    assert step.status == FulfilmentStep.Status.FAILED
    assert "can never be mapped, exported, erased or swept" in step.error
    assert not ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).exists()
    for content in _bundle_bytes():
        assert password_hash.encode() not in content and device.key.encode() not in content

    # The positive side: the same request's platform data is located as usual.
    platform_step = FulfilmentStep.objects.get(request=request, system=platform.system, kind="locate")
    assert platform_step.status == FulfilmentStep.Status.DONE
