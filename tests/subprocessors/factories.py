"""Moved to ``tests.support.factories``; kept so the register's tests import as before."""

from tests.support.factories import (  # noqa: F401 - re-exported
    AttestationFactory,
    CustomerFactory,
    DPAFactory,
    LocationFactory,
    SubprocessorFactory,
    SubscriberFactory,
)
