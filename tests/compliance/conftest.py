# Fixtures of the data-map and connector tests live in datamap_fixtures.py.
from tests.compliance.crm_schema import crm, crm_pg, crm_sqlite  # noqa: F401, E402
from tests.compliance.datamap_fixtures import (  # noqa: F401
    datamap_baseline,
    pg_platform,
    platform,
    sqlite_platform,
    sqlite_platform_schema,
)
