"""Print a demo login's current authenticator code. Refused unless DEBUG is on (the demo)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP

from security.selectors import totp_device_for


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo login (DEBUG only), so the demo needs no phone."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        if not settings.DEBUG:
            raise CommandError("demo_totp_code works only with DEBUG on (the local demo).")
        user = get_user_model().objects.filter(username=username).first()
        device = totp_device_for(user) if user is not None else None
        if device is None:
            raise CommandError(f"{username} has no authenticator.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
