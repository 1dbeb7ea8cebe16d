"""Counting what a sweep would touch, for the dry run that starts every retention run.

The connector interface sweeps but does not count. For SQL systems the count
reuses the SQL connector's own conditions (age through the join path, held
subjects, rows already anonymised), so the count and the sweep select the same
rows by construction; nothing here writes. A connector that offers its own
``sweep_count`` is asked directly; other kinds cannot be counted.
"""

from __future__ import annotations

from datetime import datetime

from compliance.connectors.base import Connector, ConnectorError, Subject
from compliance.models import ColumnTreatment, MappedTable


def sweep_count(
    connector: Connector,
    table: MappedTable,
    *,
    timestamp_column: str,
    cutoff: datetime,
    action: str,
    subjects: list[Subject] | None = None,
) -> int:
    """Rows of ``table`` a sweep with these arguments would act on, ignoring holds.

    With ``subjects``, only the rows of those subjects: what holds naming them keep.
    For ``anonymise``, rows already anonymised are not counted (the sweep leaves them).
    """
    own = getattr(connector, "sweep_count", None)
    if callable(own):
        return own(table, timestamp_column=timestamp_column, cutoff=cutoff, action=action, subjects=subjects)
    from compliance.connectors.sql import SQLConnector

    if not isinstance(connector, SQLConnector):
        raise ConnectorError(
            f"{connector.system.get_kind_display()} systems cannot count rows for a retention dry run."
        )
    table = connector._table(table)
    age_sql, age_params = connector._age_condition(table, timestamp_column, cutoff)
    where, params = [age_sql], list(age_params)
    columns = connector._mapped_columns(table)
    deletes = action == "delete" or any(c.treatment == ColumnTreatment.DELETE_ROW for c in columns)
    if not deletes:
        _sets, _set_params, done, done_params = connector._treatments(table, columns)
        if done:
            where.append(f"NOT ({done})")
            params.extend(done_params)
    if subjects is not None:
        if not subjects:
            return 0
        held_sql, held_params = connector._held_condition(table, subjects)
        where.append(held_sql)
        params.extend(held_params)
    # Identifiers were checked against introspection and quoted by the connector; values are bound.
    sql = f"SELECT count(*) FROM {connector.qn_table(table.table_name)} WHERE {' AND '.join(where)}"  # noqa: S608
    with connector._guard(table.table_name), connector.connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])
