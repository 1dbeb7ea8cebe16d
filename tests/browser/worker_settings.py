"""Settings of the real Celery worker the journeys start: the test settings, with email and private files
where the live server's test puts them (the file backend and the folders it names in the environment).

``EMAIL_URL`` is read as the demo reads it (``filemail:///an/absolute/folder``), so the journeys also prove
that an absolute ``filemail://`` URL writes into that folder."""

import os

from config.env import email_from_env
from config.settings.test import *  # noqa: F403
from config.settings.test import STORAGES

vars().update(email_from_env("EMAIL_URL", "memorymail://"))
STORAGES = {
    **STORAGES,
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ["JOURNEY_PRIVATE_STORAGE"]},
    },
}
