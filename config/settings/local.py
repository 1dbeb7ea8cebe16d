"""The embedded default: SQLite files and the filesystem broker under var/, no server needed."""

from config.env import refuse_memory_broker
from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BROKER_URL, bool_from_env

refuse_memory_broker("CELERY_BROKER_URL", CELERY_BROKER_URL)

DEBUG = bool_from_env("DJANGO_DEBUG", True)
