"""Fixtures of the data-map and connector tests: the shipped map on seeded sample platforms.

Two copies of the sample platform: ``platform`` (PostgreSQL, migrated by the test
run) and ``platform_sqlite`` (in-memory SQLite, its tables created here once per
session). Both are seeded with the same seed and anchor, so the same ids hold
the same rows on both; the shipped ``datamap.yaml`` is loaded for each
(``studio-platform`` on PostgreSQL, ``studio-platform-sqlite`` on SQLite).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import yaml
from django.apps import apps
from django.conf import settings
from django.db import connections

from compliance.connectors import get_connector
from compliance.datamap import datamap_import
from compliance.models import MappedTable, SystemOfRecord
from compliance.roles import roles_sync
from compliance.services import policy_baseline_load
from sample_platform.seed import seed_platform

ANCHOR = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
SEED = 7
ACCOUNTS = 30
REQUESTS_PER_ACCOUNT = 12
PLATFORM_DATABASES = ["default", "platform"]
BOTH_PLATFORMS = ["default", "platform", "platform_sqlite"]
MAP_FILE = settings.BASE_DIR / "sample_platform" / "datamap.yaml"


def shipped_map(slug: str = "studio-platform", alias: str = "platform") -> dict:
    data = yaml.safe_load(MAP_FILE.read_text())
    system = data["systems"][0]
    system["slug"], system["database_alias"] = slug, alias
    system["name"] = "Studio platform" if alias == "platform" else f"Studio platform ({alias})"
    return data


@dataclass
class Platform:
    """A mapped, seeded sample platform."""

    alias: str
    system: SystemOfRecord

    @property
    def connector(self):
        return get_connector(self.system)

    def table(self, name: str) -> MappedTable:
        return self.system.tables.get(table_name=name)

    def model(self, name: str):
        return apps.get_model("sample_platform", name)

    def objects(self, name: str):
        return self.model(name).objects.using(self.alias)

    def sql(self, statement: str, params=None) -> list[tuple]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(statement, params or [])
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session")
def sqlite_platform_schema(django_db_setup, django_db_blocker):
    """The sample platform's tables on the in-memory SQLite alias (no migrations run there)."""
    with django_db_blocker.unblock():
        connection = connections["platform_sqlite"]
        existing = set(connection.introspection.table_names())
        with connection.schema_editor() as editor:
            for model in apps.get_app_config("sample_platform").get_models():
                if model._meta.db_table not in existing:
                    editor.create_model(model)


def _seed(alias: str) -> None:
    seed_platform(
        accounts=ACCOUNTS,
        requests_per_account=REQUESTS_PER_ACCOUNT,
        seed=SEED,
        anchor=ANCHOR,
        using=alias,
        reset=True,
    )


@pytest.fixture
def datamap_baseline(db):
    policy_baseline_load()
    roles_sync()


@pytest.fixture
def pg_platform(datamap_baseline) -> Platform:
    _seed("platform")
    datamap_import(shipped_map())
    return Platform("platform", SystemOfRecord.objects.get(slug="studio-platform"))


@pytest.fixture
def sqlite_platform(datamap_baseline, sqlite_platform_schema) -> Platform:
    _seed("platform_sqlite")
    datamap_import(shipped_map("studio-platform-sqlite", "platform_sqlite"))
    return Platform("platform_sqlite", SystemOfRecord.objects.get(slug="studio-platform-sqlite"))


@pytest.fixture(params=["postgresql", "sqlite"])
def platform(request, sqlite_platform_schema) -> Platform:
    """Each test using it runs on both backends (its module must allow ``BOTH_PLATFORMS``)."""
    return request.getfixturevalue("pg_platform" if request.param == "postgresql" else "sqlite_platform")


class MemorySink:
    """An export sink keeping each (table, format) stream's bytes and how many writes made them."""

    def __init__(self, formats=None):
        if formats is not None:
            self.formats = formats
        self.data: dict[tuple[str, str], bytes] = {}
        self.writes: dict[tuple[str, str], int] = {}

    @contextlib.contextmanager
    def open_stream(self, table, fmt):
        key = (table.table_name, fmt)
        sink = self

        class Stream(io.BytesIO):
            def write(self, data):
                sink.writes[key] = sink.writes.get(key, 0) + 1
                return super().write(data)

        stream = Stream()
        yield stream
        self.data[key] = stream.getvalue()

    def text(self, table: str, fmt: str) -> str:
        return self.data[(table, fmt)].decode("utf-8")
