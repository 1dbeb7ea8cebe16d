"""Settings of the real Celery workers tests start: the test settings, with email, private files and the
filesystem broker's folders where the test process puts them (named in the environment).

``EMAIL_URL`` is read as the demo reads it (``filemail:///an/absolute/folder``), so the journeys also prove
that an absolute ``filemail://`` URL writes into that folder."""

import os

from config.env import email_from_env
from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS, PRIVATE_FILE_PERMISSIONS, STORAGES

vars().update(email_from_env("EMAIL_URL", "memorymail://"))
if os.environ.get("TEST_PRIVATE_STORAGE"):
    STORAGES = {
        **STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": os.environ["TEST_PRIVATE_STORAGE"], **PRIVATE_FILE_PERMISSIONS},
        },
    }
if os.environ.get("TEST_BROKER_FOLDER"):  # the filesystem broker of the demo, in a folder of the test
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": os.path.join(os.environ["TEST_BROKER_FOLDER"], "queue"),
        "data_folder_out": os.path.join(os.environ["TEST_BROKER_FOLDER"], "queue"),
        "processed_folder": os.path.join(os.environ["TEST_BROKER_FOLDER"], "processed"),
        "control_folder": os.path.join(os.environ["TEST_BROKER_FOLDER"], "control"),
    }
