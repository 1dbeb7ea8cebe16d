"""Read by gunicorn when it starts in the project folder: the web process's settings (config/gunicorn.py)."""

from config.gunicorn import *  # noqa: F403
