"""Counting what a sweep would touch, for the dry run that starts every retention run.

The connector interface sweeps but does not count. For SQL systems the count
reuses the SQL connector's own conditions (age through the join path, held
subjects, rows already anonymised), so the count and the sweep select the same
rows by construction, in one read-only statement whatever the number of holds.
A connector that offers its own ``sweep_counts`` is asked directly; other kinds
cannot be counted.
"""

from __future__ import annotations

from datetime import datetime

from compliance.connectors.base import Connector, ConnectorError, Subject
from compliance.models import ColumnTreatment, MappedTable


def sweep_counts(
    connector: Connector,
    table: MappedTable,
    *,
    timestamp_column: str,
    cutoff: datetime,
    action: str,
    subject_groups: list[list[Subject]] = (),
) -> list[int]:
    """``[rows, rows of group 1, rows of group 2, ...]``: what a sweep would act on, ignoring holds.

    ``rows`` counts every row of ``table`` a sweep with these arguments would
    delete or anonymise (for ``anonymise``, rows already anonymised are left out,
    as the sweep leaves them); each further figure counts those rows belonging to
    one group of subjects (what the holds naming them keep).
    """
    own = getattr(connector, "sweep_counts", None)
    if callable(own):
        return own(
            table, timestamp_column=timestamp_column, cutoff=cutoff, action=action, subject_groups=subject_groups
        )
    from compliance.connectors.sql import SQLConnector

    if not isinstance(connector, SQLConnector):
        raise ConnectorError(
            f"{connector.system.get_kind_display()} systems cannot count rows for a retention dry run."
        )
    table = connector._table(table)
    age_sql, age_params = connector._age_condition(table, timestamp_column, cutoff)
    where, where_params = [age_sql], list(age_params)
    columns = connector._mapped_columns(table)
    deletes = action == "delete" or any(c.treatment == ColumnTreatment.DELETE_ROW for c in columns)
    if not deletes:
        _sets, _set_params, done, done_params = connector._treatments(table, columns)
        if done:
            where.append(f"NOT ({done})")
            where_params.extend(done_params)
    figures, figure_params = ["count(*)"], []
    for subjects in subject_groups:
        held_sql, held_params = connector._held_condition(table, list(subjects))
        figures.append(
            f"count(*) FILTER (WHERE {held_sql})"
            if connector.vendor == "postgresql"
            else f"coalesce(sum(CASE WHEN {held_sql} THEN 1 ELSE 0 END), 0)"
        )
        figure_params.extend(held_params)
    # Identifiers were checked against introspection and quoted by the connector; values are bound.
    sql = (
        f"SELECT {', '.join(figures)} FROM {connector.qn_table(table.table_name)} "  # noqa: S608
        f"WHERE {' AND '.join(where)}"
    )
    with connector._guard(table.table_name), connector.connection.cursor() as cursor:
        cursor.execute(sql, [*figure_params, *where_params])
        return [int(value) for value in cursor.fetchone()]
