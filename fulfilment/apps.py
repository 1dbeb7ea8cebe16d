from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    """The workers that carry out rights requests: locate, export bundles, erasure, notices.

    A separate app from ``requests_app`` (which it sits above and builds on) so
    the two could be built in parallel without their migrations colliding.
    """

    name = "fulfilment"
    verbose_name = "Fulfilment (exports, erasure, notices)"

    def ready(self) -> None:
        from compliance.manual_tasks import manual_task_on_done
        from fulfilment.services.plans import manual_task_steps_continue

        manual_task_on_done(manual_task_steps_continue)
