from celery import shared_task


@shared_task(bind=True, acks_late=True, ignore_result=True)
def worker_heartbeat_task(self) -> None:
    from compliance.services import worker_heartbeat_record

    worker_heartbeat_record(worker=self.request.hostname or "unknown")


@shared_task(bind=True, acks_late=True, ignore_result=True)
def datamap_drift_check_task(self) -> None:
    from compliance.discovery import datamap_drift_check

    datamap_drift_check()
