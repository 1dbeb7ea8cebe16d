"""Connectors: how the back office reaches a system of record (see ``base.py`` for the interface)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance.connectors.base import (
    BatchSizer,
    Connector,
    ConnectorError,
    ConnectorPending,
    ConnectorUnavailable,
    ErasureOutcome,
    ErasurePlan,
    ExportSink,
    Subject,
    SweepBatch,
    TableCount,
    TablePlan,
)

if TYPE_CHECKING:
    from compliance.models import SystemOfRecord

__all__ = [
    "BatchSizer",
    "Connector",
    "ConnectorError",
    "ConnectorPending",
    "ConnectorUnavailable",
    "ErasureOutcome",
    "ErasurePlan",
    "ExportSink",
    "Subject",
    "SweepBatch",
    "TableCount",
    "TablePlan",
    "get_connector",
]


def get_connector(system: SystemOfRecord) -> Connector:
    """The connector for ``system``'s kind. ``ConnectorError`` if the system cannot be used."""
    from compliance.models import SystemOfRecord

    if not system.is_active:
        raise ConnectorError(f"System {system.slug!r} is not active.")
    if system.kind == SystemOfRecord.Kind.SQL:
        from compliance.connectors.sql import SQLConnector

        return SQLConnector(system)
    if system.kind == SystemOfRecord.Kind.WEBHOOK:
        from compliance.connectors.webhook import WebhookConnector

        return WebhookConnector(system)
    if system.kind == SystemOfRecord.Kind.MANUAL:
        from compliance.connectors.manual import ManualConnector

        return ManualConnector(system)
    raise ConnectorError(f"System {system.slug!r} has an unknown kind {system.kind!r}.")
