"""Which of the back office's own tables may be in the data map.

The back office's records of how rights requests were handled are a system of record like any other
(database alias ``default``, ``retention/backoffice_datamap.yaml``): retention sweeps them through the
same SQL connector. The same database also holds what must never leave it or be touched by a sweep:
staff credentials and sessions, second-factor devices and recovery codes, API client token hashes,
lockout records, the jobs outbox, the beat schedule, the access audit. A compliance officer who could
map ``auth_user`` could export every staff password hash in an access bundle.

So on the back office's database only the tables listed here may be mapped, exported, erased or
swept, whoever asks. The list is code: the back office's own map is what the project ships, and
changing it needs a release. It is enforced by ``MappedTable.clean`` and ``MappedColumn.clean`` (admin
forms, the YAML import), by the column import, by retention rules, and by the connectors themselves
(``SchemaReader.table`` and ``SQLConnector``), so a row that reached the data map some other way is
never exported, erased or swept either.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

BACKOFFICE_ALIAS = DEFAULT_DB_ALIAS

# The request-handling records of the back office: the only tables of its database a map may name.
# Add a table here (in a release) only if it holds records of handling requests, never secrets.
BACKOFFICE_MAPPABLE_TABLES: frozenset[str] = frozenset(
    {
        "requests_app_rightsrequest",
        "requests_app_historicalrightsrequest",
        "requests_app_requestline",
        "requests_app_historicalrequestline",
        "requests_app_requestevent",
        "requests_app_communication",
        "requests_app_historicalcommunication",
        "requests_app_requestnote",
        "requests_app_historicalrequestnote",
        "fulfilment_exportbundle",
        "fulfilment_downloadattempt",
        "fulfilment_fulfilmentplan",
        "fulfilment_historicalfulfilmentplan",
        "fulfilment_recipientnotice",
        "fulfilment_historicalrecipientnotice",
        "subprocessors_noticesubscriber",
        "requests_app_appeal",
        "requests_app_historicalappeal",
        "requests_app_requestregime",
        "compliance_manualtask",
        "compliance_historicalmanualtask",
        "retention_legalhold",
        "retention_historicallegalhold",
        "fulfilment_erasureledgerentry",
        "fulfilment_fulfilmentstep",
        "fulfilment_historicalfulfilmentstep",
        "requests_app_idempotencyrecord",
    }
)


def _database_identity(alias: str) -> tuple[str, str, str, str]:
    settings_dict = connections[alias].settings_dict
    return (
        connections[alias].vendor,
        str(settings_dict.get("NAME") or ""),
        str(settings_dict.get("HOST") or ""),
        str(settings_dict.get("PORT") or ""),
    )


def is_backoffice_alias(alias: str) -> bool:
    """``alias`` reaches the back office's own database: ``default``, or another alias naming the same
    database (a second alias must not be a way around the list)."""
    if alias == BACKOFFICE_ALIAS:
        return True
    if not alias or alias not in connections:
        return False
    identity = _database_identity(alias)
    if identity[0] == "sqlite" and (identity[1] in {"", ":memory:"} or "mode=memory" in identity[1]):
        return False  # every in-memory SQLite database is a database of its own
    return identity == _database_identity(BACKOFFICE_ALIAS)


def backoffice_table_problem(alias: str, table_name: str) -> str | None:
    """Why ``table_name`` of database ``alias`` can never be mapped, exported, erased or swept; None if it may."""
    if not is_backoffice_alias(alias) or table_name in BACKOFFICE_MAPPABLE_TABLES:
        return None
    return (
        f"Table {table_name!r} is one of the back office's own tables that can never be mapped, exported, erased "
        "or swept (credentials, sessions, second-factor devices, API tokens, lockouts, jobs and schedules stay "
        "out of the data map). Only the back office's request-handling records may be mapped on "
        f"alias {alias!r}."
    )


# Why each other table of our own apps is not in the back office's map. A new model's table must be added
# here or to BACKOFFICE_MAPPABLE_TABLES (and the map, with a rule when it holds personal data): a test fails
# until it is, so a table of requesters' data cannot stay out of every sweep without anyone deciding it.
_SECRETS = "Credentials, tokens or code hashes, audit trail or job queue: never mappable."
_REGISTER = "Register, taxonomy, data map or configuration kept by staff: no requester's data."
_EVIDENCE = "Evidence of sweeps and jobs: counts, dates and hashes of keys, no requester's data."
_LINKS = "Link rows (ids only) between mapped records: about a person only through them."
_STAFF = "Staff and customers' business contacts (register, contracts): not requesters' data."
BACKOFFICE_UNMAPPED_TABLES: dict[str, str] = {
    **dict.fromkeys(
        [
            "requests_app_apiclient",
            "requests_app_historicalapiclient",
            "fulfilment_downloadlink",
            "fulfilment_historicaldownloadlink",
            "jobs_pendingjob",
            "security_accessevent",
        ],
        _SECRETS,
    ),
    **dict.fromkeys(
        [
            f"compliance_{name}"
            for base in [
                "datacategory",
                "processingpurpose",
                "legalbasis",
                "subjecttype",
                "right",
                "regime",
                "regimeright",
                "processingactivity",
                "systemofrecord",
                "mappedtable",
                "reviewedtable",
                "mappedcolumn",
                "mappingsuggestion",
                "manualtasktable",
            ]
            for name in (base, f"historical{base}")
        ]
        + [
            "compliance_processingactivity_data_categories",
            "compliance_processingactivity_subject_types",
            "compliance_systemofrecord_data_categories",
            "retention_retentionrule",
            "retention_historicalretentionrule",
            "retention_retentionruleregimebasis",
            "retention_historicalretentionruleregimebasis",
            "requests_app_referencecounter",
        ]
        + [
            f"subprocessors_{name}"
            for base in [
                "adequacydecision",
                "subprocessor",
                "processinglocation",
                "dataprocessingagreement",
                "securityattestation",
                "subprocessorchange",
            ]
            for name in (base, f"historical{base}")
        ]
        + [
            f"subprocessors_{prefix}subprocessor_{field}"
            for prefix in ("", "historical")
            for field in ("purposes", "data_categories", "subject_types", "processing_activities", "systems_of_record")
        ],
        _REGISTER,
    ),
    **dict.fromkeys(
        [
            "compliance_workerheartbeat",
            "retention_retentionrun",
            "retention_historicalretentionrun",
            "retention_retentionrunbatch",
            "retention_retentionrunholdskip",
            "subprocessors_expiryreminder",
            "subprocessors_registerdigest",
            "subprocessors_changenoticedelivery",
            "subprocessors_historicalnoticesubscriber",  # history without the address (excluded from it)
            "requests_app_notificationsent",
            "fulfilment_locatedtable",
            "fulfilment_historicalexportbundle",
        ],
        _EVIDENCE,
    ),
    **dict.fromkeys(
        [
            "requests_app_requestline_regimes",
            "requests_app_appeal_lines",
            "requests_app_appeal_regimes",
            "requests_app_appeal_reversed_lines",
            "fulfilment_recipientnotice_categories",
        ],
        _LINKS,
    ),
    **dict.fromkeys(
        [
            "subprocessors_customercontract",
            "subprocessors_historicalcustomercontract",
            "subprocessors_changeobjection",
            "subprocessors_historicalchangeobjection",
        ],
        _STAFF,
    ),
}
