"""The embedded default: SQLite files and the filesystem broker under var/, no server needed."""

from config.settings.base import *  # noqa: F403
from config.settings.base import bool_from_env

DEBUG = bool_from_env("DJANGO_DEBUG", True)
