"""Fail fast, with the variable to set, when the database or broker cannot be reached."""

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections


class Command(BaseCommand):
    help = "Check that every configured database and the Celery broker answer."

    def handle(self, *args, **options):
        problems = []
        for alias in settings.DATABASES:
            variable = "DATABASE_URL" if alias == "default" else f"{alias.upper()}_DATABASE_URL"
            connection = connections[alias]
            try:
                if connection.vendor == "postgresql":
                    # The server must answer; the database itself may not exist yet (the test
                    # runner creates its own test databases through the maintenance database).
                    with connection._nodb_cursor() as cursor:
                        cursor.execute("SELECT 1")
                else:
                    connection.ensure_connection()
            except Exception as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                problems.append(f"database {alias!r} unreachable ({first_line}); set {variable}")
        try:
            # The project's Celery app (config/celery_app.py, made current when Django loads the settings).
            with current_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:
            problems.append(f"broker unreachable ({type(exc).__name__}); set CELERY_BROKER_URL")
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("Databases and broker reachable.")
