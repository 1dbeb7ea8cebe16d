"""A plan sends one job per step on the demo's filesystem broker too, run by a real worker (issue 11: one
demo erasure over 3 systems put about 950 jobs in the outbox and 460 messages on the broker).

The broker's folders are a folder of this test; the worker is a real Celery process on the test databases
(``tests/support/processes.py``); the test waits for its effect by polling the database."""

import pytest

from config.celery_app import app as celery_app
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep
from fulfilment.services import fulfilment_start, plan_approve
from jobs.models import PendingJob
from tests.fulfilment.test_queueing import _jobs, _ticket_at_the_helpdesk, helpdesk  # noqa: F401 - fixture
from tests.support.processes import broker, start_worker, stop_process, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]


@pytest.fixture
def filesystem_worker(tmp_path, _private_storage):
    folders = {name: tmp_path / "broker" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    previous = celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = options
    process = start_worker(
        "filesystem",
        broker_url="filesystem://",
        DJANGO_SETTINGS_MODULE="tests.browser.worker_settings",
        TEST_BROKER_FOLDER=str(tmp_path / "broker"),
        TEST_PRIVATE_STORAGE=str(_private_storage),
    )
    try:
        with broker("filesystem://"):
            yield folders
    finally:
        stop_process(process)
        celery_app.conf.broker_transport_options = previous


def test_a_plan_run_by_a_worker_on_the_filesystem_broker_sends_one_job_per_step(
    platform,
    helpdesk,  # noqa: F811
    open_request,
    officer,
    filesystem_worker,
):
    _ticket_at_the_helpdesk(platform.subject.email)
    request = open_request(platform.subject, ["access", "erasure"])
    fulfilment_start(request=request, actor=officer)
    erasure = wait_for(
        lambda: FulfilmentPlan.objects.filter(request=request, kind="erasure", status="awaiting_approval").first()
    )
    plan_approve(plan=erasure, actor=officer)
    wait_for(lambda: FulfilmentPlan.objects.filter(pk=erasure.pk, status="completed").exists())

    erase_steps = list(FulfilmentStep.objects.filter(request=request, kind="erase"))
    assert len({step.system_id for step in erase_steps}) == 2 and len(erase_steps) >= 5
    assert all(step.status == "done" for step in erase_steps)
    changes = _jobs("change_step_task")
    assert set(changes) == {(step.pk,) for step in erase_steps} and max(changes.values()) == 1
    locates = _jobs("locate_step_task")
    assert len(locates) == 2 and max(locates.values()) == 1
    bundle = ExportBundle.objects.get(request=request)
    exports = _jobs("export_system_task")
    assert exports and max(exports.values()) == 1
    assert _jobs("bundle_assemble_task") == {(bundle.pk,): 1}
    # Every job went through the broker's folder and nothing is left in it.
    assert not PendingJob.objects.filter(sent_at__isnull=True).exists()
    wait_for(lambda: not list(filesystem_worker["queue"].iterdir()))
