"""Fixtures of the fulfilment tests: a rights request for a platform subject, the fulfilment log.

The sample platform (``platform``), the register (``vendors``), the ``platform_*`` helpers,
``eager_tasks`` and ``private_storage`` are shared: see ``tests/support/``.
"""

from __future__ import annotations

import logging

import pytest

from compliance.connectors import Subject
from tests.support.factories import RightsRequestFactory


@pytest.fixture(autouse=True)
def _private_storage(private_storage):
    """Every fulfilment test keeps bundles and letters in its own folder."""
    return private_storage


@pytest.fixture
def fulfilment_log(caplog):
    """The fulfilment logger's records (kept even when an eager task re-applies the logging settings)."""
    logger = logging.getLogger("fulfilment")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def open_request(officer):
    """A verified rights request for a platform subject, with the given rights."""

    def make(subject: Subject, rights: list[str], *, verified: bool = True, regime: str = "uk_gdpr", **extra):
        return RightsRequestFactory(
            requester_name=extra.pop("requester_name", "Ada <b>Lovelace</b>"),
            requester_email=subject.email,
            account_ref=subject.account_ref or "",
            regime=regime,
            rights=rights,
            actor=officer,
            verified_by=officer if verified else None,
            **extra,
        )

    return make
