from config.celery_app import app
from requests_app.periodic import PERIODIC_JOBS


def test_every_periodic_job_names_a_registered_task():
    app.loader.import_default_modules()
    assert {job.task for job in PERIODIC_JOBS} <= set(app.tasks)
    assert len(PERIODIC_JOBS) == 4
