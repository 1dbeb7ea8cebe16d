"""Test databases cloned from templates that ``manage.py migrate`` built once.

Migrating is the slowest part of starting the suite: Django renders the project's model state again
for every migration operation, about 20 s of CPU per database alias whatever the alias holds (the
``platform`` and ``platform_sqlite`` aliases replay every app's migrations to record them). pytest-django
would run it for ``default``, ``platform`` and ``platform_sqlite`` in every xdist process. Instead:

1. A template per alias, named after a fingerprint of everything ``migrate``'s result depends on
   (``template_fingerprint``): every installed app's migration files, the project's own code (data
   migrations and ``post_migrate`` handlers run it: the baseline, the roles), the settings (the baseline
   reads some) and the Python and Django versions. Change any of them and the name changes: the next run
   builds a new template and drops the stale ones.
2. A missing template is built by ``manage.py migrate --database <alias>`` in its own process on an
   empty database, as an installation is; the aliases' builds run side by side (one per core).
3. Each test process clones its test databases from the templates (PostgreSQL ``CREATE DATABASE ...
   TEMPLATE``; SQLite's backup API for the in-memory alias). The clones are the test databases
   pytest-django would have named and migrated: ``test_<name>``, suffixed ``_gw0``, ``_gw1``, ... under
   xdist, dropped at the end unless ``--reuse-db``.

A transactional test ends with Django's ``flush``, which on PostgreSQL is one ``TRUNCATE`` of every table:
about 4 s for the back office's 135 tables here (each truncated table gets new files), against 0.2 s for
a ``DELETE`` of each (the tables of a test hold a few rows). ``delete_flush`` empties the test databases
that way; the tables end as empty as ``TRUNCATE`` leaves them (no trigger or rule exists to tell the two
apart; foreign keys are deferred, so the order does not matter).

A PostgreSQL advisory lock on the ``default`` alias's server serialises building, cloning and dropping,
so the first xdist process builds while the others wait, and a template is never dropped while another
run clones it. ``--create-db`` rebuilds the templates too, once per run (the xdist processes of one run
share its id; a template records the run that built it). ``--reuse-db`` keeps an existing test
database as pytest-django does (``migrate`` brings it forward) and clones only a missing one.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import types
import uuid
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader

# Settings that differ between the processes of one run (each has its own Redis database, cache prefix and
# test database names) and do not change what ``migrate`` writes.
PER_PROCESS_SETTINGS = {"DATABASES", "CACHES", "CACHE_KEY_PREFIX", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
SKIPPED_PARTS = {"__pycache__", "migrations"}
# The settings module the SQLite alias's template is migrated with (the test settings, that alias on a file).
SQLITE_TEMPLATE_SETTINGS = "tests.support.sqlite_template_settings"
SQLITE_TEMPLATE_DIR = Path(settings.BASE_DIR) / "var" / "test-templates"
# Each alias's own database name, before the test set-up points the alias at its test database: templates
# are named after it, as test databases are.
TEMPLATES_LOCK_KEY = zlib.crc32(b"test-database-templates") - 2**31
# This run (the processes xdist starts for one run share an id): ``--create-db`` rebuilds a template once.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
ORIGINAL_NAMES = {alias: connections[alias].settings_dict["NAME"] for alias in connections}


# -- the fingerprint ---------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    """A text for a setting's value that is the same in every process: sorted sets and mappings, no
    object addresses, the checkout's path replaced (two clones of the project share templates)."""
    if isinstance(value, dict):
        items = sorted((_canonical(key), _canonical(item)) for key, item in value.items())
        return "{" + ", ".join(f"{key}: {item}" for key, item in items) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_canonical(item) for item in value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_canonical(item) for item in value) + "]"
    text = re.sub(r" at 0x[0-9a-f]+", "", repr(value))
    return text.replace(str(settings.BASE_DIR), "<BASE_DIR>")


def settings_fingerprint_text() -> str:
    names = sorted(name for name in dir(settings) if name.isupper() and name not in PER_PROCESS_SETTINGS)
    return "\n".join(f"{name}={_canonical(getattr(settings, name))}" for name in names)


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix != ".pyc" and "__pycache__" not in path.parts:
            yield path


@functools.cache
def template_fingerprint() -> str:
    """This run's fingerprint, computed once: a test that changes a setting later does not change it."""
    return compute_fingerprint()


def compute_fingerprint() -> str:
    """A hash of what the migrated databases depend on (module docstring, step 1)."""
    import django

    digest = hashlib.sha256()
    digest.update(f"python {sys.version}\ndjango {django.__version__}\n".encode())
    # Installed libraries are not our code, even when the virtualenv sits inside the checkout (CI's clone).
    base, environment = Path(settings.BASE_DIR).resolve(), Path(sys.prefix).resolve()
    own_code: set[Path] = {base / "config"}
    for config in apps.get_app_configs():
        folder = Path(config.path).resolve()
        migrations = folder / "migrations"
        if migrations.is_dir():
            for path in _files(migrations):
                digest.update(f"{config.label}/{path.relative_to(folder)}\n".encode() + path.read_bytes())
        if folder.is_relative_to(base) and not folder.is_relative_to(environment):
            own_code.add(folder)
    for folder in sorted(own_code):
        for path in _files(folder):
            if not SKIPPED_PARTS.intersection(path.relative_to(folder).parts):
                digest.update(f"{path.relative_to(base)}\n".encode() + path.read_bytes())
    digest.update(settings_fingerprint_text().encode())
    return digest.hexdigest()[:12]


# -- names -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    alias: str
    fingerprint: str

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.alias]

    @property
    def is_sqlite(self) -> bool:
        return self.connection.vendor == "sqlite"

    @property
    def base(self) -> str:
        # Named after the alias's own database (before the test settings renamed it), as the test database
        # is; 63 bytes is PostgreSQL's limit.
        return f"test_{ORIGINAL_NAMES[self.alias]}"[:40]

    @property
    def prefix(self) -> str:
        return f"{self.base}_tpl_"

    @property
    def name(self) -> str:
        if self.is_sqlite:
            return str(SQLITE_TEMPLATE_DIR / f"{self.alias}_tpl_{self.fingerprint}.sqlite3")
        return self.prefix + self.fingerprint

    def built_by_this_run(self) -> bool:
        if self.is_sqlite:
            marker = Path(self.name + ".run")
            return marker.exists() and marker.read_text() == RUN_ID
        with self.connection.creation._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [self.name]
            )
            row = cursor.fetchone()
            return row is not None and row[0] == RUN_ID

    def exists(self) -> bool:
        if self.is_sqlite:
            return Path(self.name).exists()
        with self.connection.creation._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name])
            return cursor.fetchone() is not None

    def stale(self) -> list[str]:
        """Templates of other fingerprints, and interrupted builds (never another run's copies)."""
        if self.is_sqlite:
            pattern = re.compile(re.escape(f"{self.alias}_tpl_") + r"[0-9a-f]{12}\.sqlite3(\.building)?")
            names = [
                str(path) for path in SQLITE_TEMPLATE_DIR.glob(f"{self.alias}_tpl_*") if pattern.fullmatch(path.name)
            ]
        else:
            pattern = re.compile(re.escape(self.prefix) + r"(b_)?[0-9a-f]{12}")
            with self.connection.creation._nodb_cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [self.prefix])
                names = [row[0] for row in cursor.fetchall() if pattern.fullmatch(row[0])]
        return [name for name in names if name != self.name]

    def drop(self, name: str) -> None:
        if self.is_sqlite:
            Path(name).unlink(missing_ok=True)
            Path(name + ".run").unlink(missing_ok=True)
            return
        quoted = self.connection.ops.quote_name(name)
        with self.connection.creation._nodb_cursor() as cursor:
            cursor.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", [name])
            row = cursor.fetchone()
            if row is None:
                return
            if row[0]:
                cursor.execute(f"ALTER DATABASE {quoted} WITH IS_TEMPLATE false")
            cursor.execute(f"DROP DATABASE {quoted}")


# -- building ----------------------------------------------------------------------------------------


def database_url(alias: str, name: str) -> str:
    """The URL of database ``name`` on the alias's PostgreSQL server, with the alias's credentials."""
    db = connections[alias].settings_dict
    user = url_quote(db.get("USER") or "postgres", safe="")
    password = f":{url_quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{url_quote(name)}"


def _migrate_process(template: Template, building: str) -> subprocess.Popen:
    """``manage.py migrate`` of one alias, in its own process, onto the empty database ``building``."""
    environment = {**os.environ}
    environment.pop("PYTEST_XDIST_WORKER", None)
    if template.is_sqlite:
        environment["DJANGO_SETTINGS_MODULE"] = SQLITE_TEMPLATE_SETTINGS
        environment["TEST_TEMPLATE_BASE_SETTINGS"] = settings.SETTINGS_MODULE
        environment["TEST_SQLITE_TEMPLATE"] = building
        environment["TEST_SQLITE_TEMPLATE_ALIAS"] = template.alias
    else:
        environment["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE
        variable = "DATABASE_URL" if template.alias == "default" else f"{template.alias.upper()}_DATABASE_URL"
        environment[variable] = database_url(template.alias, building)
    command = [sys.executable, "manage.py", "migrate", "--database", template.alias, "--noinput", "--skip-checks"]
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _build(templates: list[Template]) -> None:
    """Migrate every missing template at once (each in its own process), then publish each under its
    final name: a template under its final name is complete."""
    builds = []
    for template in templates:
        building = template.name + ".building" if template.is_sqlite else template.prefix + "b_" + template.fingerprint
        template.drop(building)  # an interrupted build's leftover (the lock is ours)
        if not template.is_sqlite:
            with template.connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {template.connection.ops.quote_name(building)}")
        else:
            SQLITE_TEMPLATE_DIR.mkdir(parents=True, exist_ok=True)
        builds.append((template, building, _migrate_process(template, building)))
    failures = []
    for template, building, process in builds:
        output, _ = process.communicate()
        if process.returncode != 0:
            failures.append(f"manage.py migrate --database {template.alias} failed:\n{output}")
            template.drop(building)
            continue
        if template.is_sqlite:
            Path(template.name + ".run").write_text(RUN_ID)
            Path(building).replace(template.name)
            continue
        quote = template.connection.ops.quote_name
        with template.connection.creation._nodb_cursor() as cursor:
            # A template takes no connections: nothing can hold it open and make a clone fail.
            cursor.execute(f"ALTER DATABASE {quote(building)} WITH ALLOW_CONNECTIONS false")
            cursor.execute(f"COMMENT ON DATABASE {quote(building)} IS %s", [RUN_ID])
            cursor.execute(f"ALTER DATABASE {quote(building)} RENAME TO {quote(template.name)}")
            cursor.execute(f"ALTER DATABASE {quote(template.name)} WITH IS_TEMPLATE true")
    if failures:
        raise RuntimeError("\n\n".join(failures))


@contextmanager
def templates_lock() -> Iterator[None]:
    """An advisory lock on the ``default`` alias's server, held by one test process at a time."""
    with connections["default"].creation._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [TEMPLATES_LOCK_KEY])
        try:
            yield
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [TEMPLATES_LOCK_KEY])


def unmigrated_apps_with_models() -> list[str]:
    """Apps whose tables ``migrate`` would not create (Django's test set-up runs ``--run-syncdb``; the
    templates are built as an installation is, so there must be none)."""
    unmigrated = MigrationLoader(None, ignore_no_migrations=True).unmigrated_apps
    return sorted(label for label in unmigrated if list(apps.get_app_config(label).get_models()))


def ensure_templates(aliases: list[str], *, rebuild: bool = False) -> dict[str, Template]:
    """The templates of ``aliases``, built if missing (or if ``rebuild``); stale ones dropped. Call with
    ``templates_lock`` held."""
    missing_tables = unmigrated_apps_with_models()
    if missing_tables:
        raise RuntimeError(f"apps with models but no migrations: {', '.join(missing_tables)}")
    fingerprint = template_fingerprint()
    templates = {alias: Template(alias, fingerprint) for alias in aliases}
    for template in templates.values():
        for name in template.stale():
            try:
                template.drop(name)
            except DatabaseError as error:  # in use after all: the next run drops it
                warnings.warn(f"stale test database template {name} not dropped: {error}", stacklevel=1)
        if rebuild and template.exists() and not template.built_by_this_run():
            template.drop(template.name)
    _build([template for template in templates.values() if not template.exists()])
    return templates


# -- cloning -----------------------------------------------------------------------------------------


def clone_postgresql(template: Template, name: str) -> None:
    """``name``, a new database copied from the template (an existing one of that name is replaced)."""
    quote = template.connection.ops.quote_name
    with template.connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
        cursor.execute(f"CREATE DATABASE {quote(name)} WITH TEMPLATE {quote(template.name)}")
    commit_without_waiting_for_the_disk(template.connection, name)


def commit_without_waiting_for_the_disk(connection: BaseDatabaseWrapper, name: str) -> None:
    """Sessions on the test database commit without waiting for the disk (1.7 ms a commit here). The
    server is never crashed under the tests, so every later connection sees what a commit wrote all the same."""
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {connection.ops.quote_name(name)} SET synchronous_commit = off")


def clone_sqlite(template: Template, connection: BaseDatabaseWrapper) -> None:
    """Copy the template file into the alias's (in-memory) test database through SQLite's backup API."""
    connection.ensure_connection()
    with sqlite3.connect(template.name) as source:
        source.backup(connection.connection)


def database_exists(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def setup_test_databases(
    aliases: set[str], serialized_aliases: set[str], *, keepdb: bool, rebuild: bool, verbosity: int
) -> list[tuple[BaseDatabaseWrapper, str, bool]]:
    """Django's ``setup_databases`` for pytest-django's ``django_db_setup``, the test databases cloned from
    the templates (``--reuse-db``: an existing PostgreSQL test database is kept and migrated forward, as
    Django does). Returns what ``teardown_databases`` takes."""
    from django.test.utils import get_unique_databases_and_mirrors

    test_databases, mirrored_aliases = get_unique_databases_and_mirrors(aliases)
    firsts = {group[0]: group for _, group in test_databases.values()}
    with templates_lock():
        templates = ensure_templates(sorted(firsts), rebuild=rebuild)
        old_names = []
        for alias, group in firsts.items():
            connection = connections[alias]
            old_names.append((connection, connection.settings_dict["NAME"], True))
            name = connection.creation._get_test_db_name()
            if verbosity >= 1:
                connection.creation.log(f"Cloning test database for alias '{alias}' from {templates[alias].name}")
            if templates[alias].is_sqlite:
                _use_test_database(connection, name)
                clone_sqlite(templates[alias], connection)
            elif keepdb and database_exists(connection, name):
                commit_without_waiting_for_the_disk(connection, name)
                connection.creation.create_test_db(verbosity=verbosity, autoclobber=True, keepdb=True, serialize=False)
            else:
                clone_postgresql(templates[alias], name)
                _use_test_database(connection, name)
                call_command("createcachetable", database=alias)
            for mirror in group[1:]:
                old_names.append((connections[mirror], connections[mirror].settings_dict["NAME"], False))
                connections[mirror].creation.set_as_test_mirror(connection.settings_dict)
    for alias, mirror_alias in mirrored_aliases.items():
        connections[alias].creation.set_as_test_mirror(connections[mirror_alias].settings_dict)
    for alias in firsts:
        if connections[alias].vendor == "postgresql":
            connections[alias].ops.sql_flush = types.MethodType(delete_flush, connections[alias].ops)
        if alias in serialized_aliases:
            connection = connections[alias]
            connection._test_serialized_contents = connection.creation.serialize_db_to_string()
    return old_names


def delete_flush(
    ops: Any, style: Any, tables: list[str], *, reset_sequences: bool = False, allow_cascade: bool = False
):
    """``DatabaseOperations.sql_flush`` of the PostgreSQL test databases: ``DELETE`` every table instead
    of one ``TRUNCATE`` (module docstring). Sequences are not reset, as Django's between-test flush asks;
    a flush that asks otherwise, or for ``CASCADE`` to tables outside the list, gets Django's own SQL."""
    if reset_sequences or allow_cascade:
        return type(ops).sql_flush(ops, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    if not tables:
        return []
    deletes = [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(ops.quote_name(table))};" for table in tables]
    return ["SET CONSTRAINTS ALL DEFERRED;", *deletes]


def _use_test_database(connection: BaseDatabaseWrapper, name: str) -> None:
    """Point the alias at its test database, as Django's ``create_test_db`` does after creating it."""
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()


@contextmanager
def migrated_copy(alias: str = "default") -> Iterator[str]:
    """A new database copied from the alias's template (what ``manage.py migrate`` alone made of an empty
    database), its URL yielded, dropped afterwards. The test databases are set up (so the template exists)."""
    with templates_lock():
        template = ensure_templates([alias])[alias]
        name = f"{template.base}_copy_{os.getpid()}"
        clone_postgresql(template, name)
    try:
        yield database_url(alias, name)
    finally:
        with connections[alias].creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connections[alias].ops.quote_name(name)} WITH (FORCE)")
