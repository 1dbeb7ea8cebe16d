"""Demo step: a few hundred sample platform accounts, once."""

from sample_platform.seed import platform_account_count, seed_platform

DEMO_ACCOUNTS = 300
DEMO_REQUESTS_PER_ACCOUNT = 30


def load_demo(stdout) -> None:
    """Seed the sample platform when it has no account yet (safe to run again)."""
    from django.core.management.base import CommandError
    from django.db import connections

    if "platform" not in connections:
        raise CommandError(
            "The demo runs on the sample platform: set PLATFORM_DATABASE_URL (empty leaves the platform out)."
        )
    if platform_account_count() > 0:
        stdout.write("Sample platform: already has data, left as it is.")
        return
    counts = seed_platform(accounts=DEMO_ACCOUNTS, requests_per_account=DEMO_REQUESTS_PER_ACCOUNT, seed=1)
    stdout.write(f"Sample platform: {counts.total:,} rows ({DEMO_ACCOUNTS} accounts).")
