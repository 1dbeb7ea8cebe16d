import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT, roles_sync
from compliance.services import policy_baseline_load
from subprocessors.adequacy import adequacy_list_load

# Fixtures shared across the test packages (see tests/support/__init__.py): ask for them by name.
pytest_plugins = ["tests.support.fixtures", "tests.support.platform", "tests.support.retention"]


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
