"""The demo step loads once and fills every fulfilment screen; malformed settings stop start-up clearly."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from compliance.roles import COMPLIANCE_OFFICER
from fulfilment.demo import load_demo_fulfilment
from fulfilment.models import (
    DownloadAttempt,
    DownloadLink,
    ErasureLedgerEntry,
    ExportBundle,
    FulfilmentPlan,
    FulfilmentStep,
    RecipientNotice,
)


@pytest.mark.django_db(databases=["default", "platform"])
def test_the_demo_step_fills_every_fulfilment_model_once(platform, vendors, eager_tasks, django_user_model):
    officer = django_user_model.objects.create_user(username="officer", is_staff=True)
    officer.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    out = StringIO()
    load_demo_fulfilment(stdout=out)
    assert "3 requests carried out" in out.getvalue()
    assert ExportBundle.objects.filter(status="ready").count() == 1
    assert DownloadLink.objects.count() == 1 and DownloadAttempt.objects.filter(outcome="downloaded").count() == 1
    assert FulfilmentPlan.objects.filter(status="awaiting_approval").count() == 1
    assert FulfilmentPlan.objects.filter(kind="erasure", status="completed").count() == 1
    assert ErasureLedgerEntry.objects.count() == 1
    assert RecipientNotice.objects.filter(status="confirmed").count() == 1
    assert not FulfilmentStep.objects.filter(status="failed").exists()
    counts = (FulfilmentPlan.objects.count(), FulfilmentStep.objects.count(), RecipientNotice.objects.count())

    again = StringIO()
    load_demo_fulfilment(stdout=again)
    assert "already loaded" in again.getvalue()
    assert (FulfilmentPlan.objects.count(), FulfilmentStep.objects.count(), RecipientNotice.objects.count()) == counts


def _check(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ERASURE_", "EXPORT_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ERASURE_APPROVAL_WAIVER", "ccpa", "ERASURE_APPROVAL_WAIVER must look like ccpa:50,vcdpa:50"),
        ("ERASURE_APPROVAL_WAIVER", "ccpa:-1", "ERASURE_APPROVAL_WAIVER row limits must be 0 or more"),
        ("EXPORT_BUNDLE_COMPRESSION_LEVEL", "12", "EXPORT_BUNDLE_COMPRESSION_LEVEL must be between 1 and 9"),
        ("EXPORT_LINK_MAX_DOWNLOADS", "0", "EXPORT_LINK_MAX_DOWNLOADS must be at least 1"),
        ("EXPORT_LINK_DAYS", "soon", "EXPORT_LINK_DAYS must be an integer"),
    ],
)
def test_malformed_fulfilment_settings_stop_start_up_with_one_line_naming_the_variable(variable, value, message):
    result = _check({variable: value})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr


def test_the_approval_waiver_is_read_per_regime():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.ERASURE_APPROVAL_WAIVER)",
        ],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "ERASURE_APPROVAL_WAIVER": "ccpa:50, vcdpa:10",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "{'ccpa': 50, 'vcdpa': 10}", result.stderr
