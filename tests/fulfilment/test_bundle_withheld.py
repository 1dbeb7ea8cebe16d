"""The requester's bundle leaves out the columns the data map withholds from access answers, and says so.

A real worker builds the bundle from the sample platform and the back office's own records (both shipped
maps), and the requester downloads it through the download page; then every file of the ZIP is read.
The person gets their data, readable, but not an API key's hash (it would let anyone holding the file
brute-force the key offline), nor who on our staff handled their request and what they noted, nor the back
office's bookkeeping (storage paths, link ids, row ids). The category of a withheld column is still listed.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from compliance.datamap import datamap_import_file
from compliance.models import MappedColumn
from fulfilment.models import ExportBundle
from fulfilment.services import download_link_create, fulfilment_start
from fulfilment.services.exports import link_token
from requests_app.services import request_note_add
from tests.support.platform import platform_values
from tests.support.processes import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]

STAFF_NOTE = "Internal: caller sounded angry, escalate to Priya in legal"


@pytest.fixture
def worker(workers, _private_storage):
    return workers(
        "bundle",
        DJANGO_SETTINGS_MODULE="tests.browser.worker_settings",
        TEST_PRIVATE_STORAGE=str(_private_storage),
    )


def _download(client, bundle: ExportBundle) -> zipfile.ZipFile:
    """The requester's way in: the download page, answered with the email address the request was made from."""
    link, _ = download_link_create(bundle=bundle, actor=None, send_email=False)
    response = client.post(
        reverse("fulfilment:download", args=[link_token(link)]), {"email": bundle.request.requester_email}
    )
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _withheld_names(table_name: str) -> set[str]:
    return set(
        MappedColumn.objects.filter(table__table_name=table_name)
        .exclude(access_withheld="")
        .values_list("name", flat=True)
    )


def test_a_bundle_built_by_a_worker_leaves_out_key_hashes_and_staff_data_and_says_what_it_withheld(
    client, platform, open_request, officer, worker
):
    datamap_import_file(settings.BASE_DIR / "retention" / "backoffice_datamap.yaml")
    request = open_request(platform.subject, ["access"])
    request_note_add(request=request, body=STAFF_NOTE, actor=officer)
    keys = platform_values(
        "SELECT key_hash, prefix FROM api_keys WHERE account_id = %s", [int(platform.subject.account_ref)]
    )
    key_hashes, prefixes = [row[0] for row in keys], [row[1] for row in keys]
    assert key_hashes and all(len(value) >= 32 for value in key_hashes)

    fulfilment_start(request=request, actor=officer)
    bundle = wait_for(
        lambda: ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).first(), timeout=120
    )
    archive = _download(client, bundle)
    files = {name: archive.read(name) for name in archive.namelist()}
    everything = b"\n".join(files.values()).decode("utf-8")

    # The data is there (positive check), the withheld values are nowhere in any file.
    keys = [json.loads(line) for line in files["studio-platform/api_keys.jsonl"].splitlines()]
    assert sorted(row["prefix"] for row in keys) == sorted(prefixes)
    assert all("key_hash" not in row for row in keys)
    assert "key_hash" not in next(csv.reader(io.StringIO(files["studio-platform/api_keys.csv"].decode())))
    for value in key_hashes:
        assert value not in everything
    own = [json.loads(line) for line in files["studio-backoffice/requests_app_rightsrequest.jsonl"].splitlines()]
    assert [row["reference"] for row in own] == [request.reference]
    assert "studio-backoffice/requests_app_requestnote.jsonl" in files
    assert STAFF_NOTE not in everything
    staff = User.objects.get(pk=officer.pk)
    assert staff.username not in everything

    # No data file of either system carries a withheld column, in CSV or in JSON Lines.
    for name, body in files.items():
        if not name.endswith((".csv", ".jsonl")):
            continue
        withheld = _withheld_names(name.split("/")[1].rsplit(".", 1)[0])
        if name.endswith(".csv"):
            header = next(csv.reader(io.StringIO(body.decode())), [])
            assert withheld.isdisjoint(header), name
        else:
            for line in body.splitlines():
                assert withheld.isdisjoint(json.loads(line)), name

    # The index still lists each withheld column with its category, and says why in plain words.
    html = files["index.html"].decode()
    assert "<td>key_hash</td><td>Account and identity data (withheld: security of the service)</td>" in html
    assert "<td>body</td><td>Support data (withheld: our staff&#x27;s identities and internal notes)</td>" in html
    assert "What is left out" in html
    assert "We share it with: no one outside Studio." in html  # the controller's name, never a blank
    manifest = json.loads(files["manifest.json"])
    api_keys = next(t for t in manifest["tables"] if t["table"] == "api_keys")
    assert api_keys["withheld_columns"] == [{"column": "key_hash", "reason": "security of the service"}]
