"""One way to name who made a change in django-simple-history: compliance.history.set_history_actor."""

import pytest
from django.contrib.auth.models import User

from compliance.history import set_history_actor
from compliance.models import SystemOfRecord

pytestmark = pytest.mark.django_db


def _system() -> SystemOfRecord:
    return SystemOfRecord.objects.create(
        name="History probe", slug="history-probe", kind="manual", owner="Privacy team"
    )


def test_the_named_actor_is_the_author_of_the_history_row():
    officer = User.objects.create_user("history-officer", "history-officer@example.com", "x" * 16)
    system = _system()
    system.name = "History probe, renamed"
    set_history_actor(system, officer)
    system.save()
    assert system.history.first().history_user == officer


def test_no_actor_is_the_system_and_leaves_no_author():
    system = _system()
    set_history_actor(system, None)
    system.save()
    assert system.history.count() == 2  # created, then saved again
    assert system.history.first().history_user is None
