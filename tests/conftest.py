import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT, roles_sync
from compliance.services import policy_baseline_load
from subprocessors.adequacy import adequacy_list_load

# Fixtures shared across the test packages (see tests/support/__init__.py): ask for them by name.
pytest_plugins = ["tests.support.fixtures", "tests.support.platform", "tests.support.retention"]


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's test databases, cloned from templates ``manage.py migrate`` built once
    (tests/support/databases.py) instead of migrated again in every test process."""
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    from tests.support.databases import setup_test_databases

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    keepdb = django_db_keepdb and not django_db_createdb
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        if django_db_use_migrations and connections["default"].vendor == "postgresql":
            old_names = setup_test_databases(
                aliases, serialized_aliases, keepdb=keepdb, rebuild=django_db_createdb, verbosity=verbosity
            )
        else:  # pytest-django's own set-up (--nomigrations: tables made from the models)
            if not django_db_use_migrations:
                _disable_migrations()
            old_names = setup_databases(
                verbosity=verbosity,
                interactive=False,
                keepdb=keepdb,
                aliases=aliases,
                serialized_aliases=serialized_aliases,
            )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(old_names, verbosity=verbosity)


@pytest.fixture
def baseline(db):
    """The policy baseline, roles and adequacy list, as the demo and a fresh install have them (a
    transactional test empties every table, data migrations' rows included)."""
    policy_baseline_load()
    roles_sync()
    adequacy_list_load()


def _staff(username: str, group: str | None, superuser: bool = False):
    user = get_user_model().objects.create_user(
        username=f"test-{username}",
        password="pw-for-tests-only",
        is_staff=True,
        is_superuser=superuser,
        email=f"{username}@staff.example",
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def officer(baseline):
    return _staff("officer", COMPLIANCE_OFFICER)


@pytest.fixture
def agent(baseline):
    return _staff("agent", SUPPORT_AGENT)


@pytest.fixture
def auditor(baseline):
    return _staff("auditor", AUDITOR)


@pytest.fixture
def superuser(baseline):
    return _staff("root", None, superuser=True)
