"""Create an API client and print its token once (only a hash is stored)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from requests_app.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client NAME and print its bearer token. The token is shown once and never again."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The integration, e.g. 'Support desk'.")

    def handle(self, *args, name: str, **options):
        try:
            client, token = api_client_create(name=name, actor=None)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"API client {client.name!r} created. Store this token now; it is not shown again:")
        self.stdout.write(token)
