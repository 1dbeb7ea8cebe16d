"""Demo step of retention: the default schedule from the policy, two legal holds, and first runs.

The schedule follows policy §6 and REGULATIONS.md §3. Rules are matched by
name, so running the step again changes nothing (and keeps what staff changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance.connectors import ConnectorError, get_connector
from compliance.datamap import datamap_import_file
from compliance.models import DataCategory, LegalBasis, SystemOfRecord
from retention.models import LegalHold, RetentionRule, RetentionRun, RunStatus
from retention.services import legal_hold_place, retention_rule_create, retention_run_execute, retention_run_start
from retention.services.rules import mapped_column_lookup, mapped_table_lookup

PLATFORM = "studio-platform"
BACKOFFICE = "studio-backoffice"
BACKOFFICE_MAP = Path(__file__).resolve().parent / "backoffice_datamap.yaml"
REQUEST_RECORDS = (
    "CCPA regulations §7101; Colorado Privacy Act Rule 6.11 (records of requests and how they were answered: "
    "at least 24 months)"
)


@dataclass(frozen=True)
class DefaultRule:
    name: str
    system: str
    table: str
    category: str
    trigger_column: str  # "column" of the table, or "parent_table.column" for a subject event
    period: int
    unit: str
    action: str
    basis: str
    justification: str
    source: str = ""
    anchor: str = "trigger"
    cadence: str = "30 2 * * *"
    approval_threshold: int = 10_000

    @property
    def trigger(self) -> str:
        return "subject_event" if "." in self.trigger_column else "row_timestamp"


# Children run before their parents (cadence), so a parent's rows are never still referenced.
DEFAULT_SCHEDULE = [
    DefaultRule(
        "Outputs: 30 days after their prompt",
        PLATFORM,
        "outputs",
        "content",
        "prompts.created_at",
        30,
        "days",
        "delete",
        "contract",
        "Generated outputs are only needed to answer and troubleshoot the request; customers of AI gateways "
        "expect prompts and outputs to be kept for days, not months (REGULATIONS §3).",
        cadence="40 0 * * *",
    ),
    DefaultRule(
        "Prompts: 30 days",
        PLATFORM,
        "prompts",
        "content",
        "created_at",
        30,
        "days",
        "delete",
        "contract",
        "Prompts are only needed to route and troubleshoot the request (policy §6: as long as needed to provide "
        "the Service).",
        cadence="50 0 * * *",
    ),
    DefaultRule(
        "API request metadata: anonymise after 90 days",
        PLATFORM,
        "api_requests",
        "api-usage",
        "created_at",
        90,
        "days",
        "anonymise",
        "legitimate-interests",
        "IP address, user agent and error text serve security and abuse controls for 90 days; token counts, "
        "model and cost stay for metering and billing disputes.",
        cadence="10 1 * * *",
        approval_threshold=50_000,
    ),
    DefaultRule(
        "API requests: delete after 13 months",
        PLATFORM,
        "api_requests",
        "api-usage",
        "created_at",
        13,
        "months",
        "delete",
        "legitimate-interests",
        "Usage records answer billing questions and disputes for a year and a month, then go.",
        cadence="20 1 * * *",
    ),
    DefaultRule(
        "Wallet transactions: 6 years after the financial year",
        PLATFORM,
        "wallet_transactions",
        "billing-transactions",
        "created_at",
        6,
        "years",
        "delete",
        "legal-obligation",
        "Accounting and tax records (policy §6: accounting and tax obligations).",
        source="UK company tax records: 6 years from the end of the financial year (REGULATIONS §3)",
        anchor="financial_year_end",
        cadence="0 3 * * 0",
    ),
    DefaultRule(
        "Invoices: UK VAT 6 years",
        PLATFORM,
        "invoices",
        "billing-transactions",
        "issued_at",
        6,
        "years",
        "delete",
        "legal-obligation",
        "VAT records and invoices must be kept; kept after account closure and erasure (Art. 17(3)(b)).",
        source="VAT Notice 700/21",
        anchor="financial_year_end",
        cadence="10 3 * * 0",
    ),
    DefaultRule(
        "Support messages: 12 months after the ticket closed",
        PLATFORM,
        "support_messages",
        "support",
        "support_tickets.closed_at",
        12,
        "months",
        "delete",
        "legitimate-interests",
        "Support conversations help with follow-up questions for a year after closure.",
        cadence="30 1 * * *",
    ),
    DefaultRule(
        "Support tickets: 12 months after closure",
        PLATFORM,
        "support_tickets",
        "support",
        "closed_at",
        12,
        "months",
        "delete",
        "legitimate-interests",
        "Closed tickets are kept a year for follow-ups and disputes, then deleted (REGULATIONS §3).",
        cadence="40 1 * * *",
    ),
    DefaultRule(
        "API keys: 30 days after the account closed",
        PLATFORM,
        "api_keys",
        "account-identity",
        "accounts.closed_at",
        30,
        "days",
        "delete",
        "legitimate-interests",
        "A closed account's keys are kept 30 days to investigate abuse of the account, then deleted with its "
        "other identity data (the account's closure is reached through the key's account id). While the "
        "account is open its keys, revoked ones included, are its security record.",
        cadence="50 1 * * *",
    ),
    DefaultRule(
        "Closed accounts: identity data 30 days after closure",
        PLATFORM,
        "accounts",
        "account-identity",
        "closed_at",
        30,
        "days",
        "anonymise",
        "legitimate-interests",
        "After 30 days a closed account's email, name and login id are anonymised; the row stays because "
        "invoices (kept for tax) refer to it, with the billing name and address they carry.",
        cadence="0 2 * * *",
    ),
    DefaultRule(
        "Website visitor events: 90 days",
        PLATFORM,
        "visitor_events",
        "api-usage",
        "created_at",
        90,
        "days",
        "delete",
        "legitimate-interests",
        "Website analytics and abuse signals are useful for 90 days.",
        cadence="10 2 * * *",
    ),
    # The back office's own records, mapped in backoffice_datamap.yaml (system on the `default` alias).
    DefaultRule(
        "Closed rights requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_rightsrequest",
        "account-identity",
        "closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Records of requests and how they were answered are kept 24 months (REGULATIONS §3); then the "
        "requester's name, email, account and free text are anonymised and the figures stay for statistics.",
        source=REQUEST_RECORDS,
        cadence="0 4 * * *",
    ),
    DefaultRule(
        "History of closed rights requests: delete 24 months after closure",
        BACKOFFICE,
        "requests_app_historicalrightsrequest",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots repeat the requester's details; they go with the anonymisation of the request.",
        source=REQUEST_RECORDS,
        cadence="5 4 * * *",
    ),
    DefaultRule(
        "Letters of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_communication",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Letters are part of the record of how a request was answered; after 24 months the address, subject "
        "and text are anonymised.",
        source=REQUEST_RECORDS,
        cadence="10 4 * * *",
    ),
    DefaultRule(
        "History of letters: delete 24 months after the request closed",
        BACKOFFICE,
        "requests_app_historicalcommunication",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots of letters go with the anonymisation of the letters.",
        source=REQUEST_RECORDS,
        cadence="15 4 * * *",
    ),
    DefaultRule(
        "Notes on closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_requestnote",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Staff notes are part of the record of the request for 24 months.",
        source=REQUEST_RECORDS,
        cadence="20 4 * * *",
    ),
    DefaultRule(
        "History of notes: delete 24 months after the request closed",
        BACKOFFICE,
        "requests_app_historicalrequestnote",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots of notes go with the anonymisation of the notes.",
        source=REQUEST_RECORDS,
        cadence="25 4 * * *",
    ),
    DefaultRule(
        "Expired export bundles: download records 24 months after expiry",
        BACKOFFICE,
        "fulfilment_downloadattempt",
        "api-usage",
        "fulfilment_exportbundle.expires_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "The bundle's file is purged at expiry by the fulfilment job; the record of who downloaded it (a keyed "
        "hash of the address) is evidence of the answer for 24 months, then deleted.",
        source=REQUEST_RECORDS,
        cadence="30 4 * * *",
    ),
    DefaultRule(
        "Lines of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_requestline",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Each right's outcome stays for statistics and accountability; the reasons and evidence notes, which may "
        "quote the requester, are redacted with the request.",
        source=REQUEST_RECORDS,
        cadence="35 4 * * *",
    ),
    DefaultRule(
        "History of lines: delete 24 months after the request closed",
        BACKOFFICE,
        "requests_app_historicalrequestline",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots of lines go with the anonymisation of the lines.",
        source=REQUEST_RECORDS,
        cadence="40 4 * * *",
    ),
    DefaultRule(
        "Ledger of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_requestevent",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "The event ledger shows the deadlines were met; its free-text reasons are redacted with the request.",
        source=REQUEST_RECORDS,
        cadence="45 4 * * *",
    ),
    DefaultRule(
        "Fulfilment plans of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "fulfilment_fulfilmentplan",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Plans show what was exported or erased, table by table; the rectification text they carry is redacted.",
        source=REQUEST_RECORDS,
        cadence="50 4 * * *",
    ),
    DefaultRule(
        "History of fulfilment plans: delete 24 months after the request closed",
        BACKOFFICE,
        "fulfilment_historicalfulfilmentplan",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots of plans go with the anonymisation of the plans.",
        source=REQUEST_RECORDS,
        cadence="55 4 * * *",
    ),
    DefaultRule(
        "Notices to subprocessors: anonymise 24 months after the request closed",
        BACKOFFICE,
        "fulfilment_recipientnotice",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legal-obligation",
        "Whom we told (Art. 19) and when they confirmed stays as evidence; the notice text naming the subject is "
        "redacted.",
        source=REQUEST_RECORDS,
        cadence="0 5 * * *",
    ),
    DefaultRule(
        "History of notices: delete 24 months after the request closed",
        BACKOFFICE,
        "fulfilment_historicalrecipientnotice",
        "account-identity",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legal-obligation",
        "Change-history snapshots of notices go with the anonymisation of the notices.",
        source=REQUEST_RECORDS,
        cadence="5 5 * * *",
    ),
    DefaultRule(
        "Unsubscribed notice subscribers: 30 days after unsubscribing",
        BACKOFFICE,
        "subprocessors_noticesubscriber",
        "account-identity",
        "unsubscribed_at",
        30,
        "days",
        "delete",
        "legitimate-interests",
        "An address that unsubscribed is kept 30 days to answer a question about it, then deleted.",
        cadence="10 5 * * *",
    ),
]


def default_rule_create(entry: DefaultRule, *, actor: User | None) -> RetentionRule | None:
    """Create one rule of the default schedule unless a rule of that name exists."""
    if RetentionRule.objects.filter(name=entry.name).exists():
        return None
    table = mapped_table_lookup(system_slug=entry.system, table_name=entry.table)
    return retention_rule_create(
        actor=actor,
        name=entry.name,
        data_category=DataCategory.objects.get(slug=entry.category),
        table=table,
        trigger=entry.trigger,
        trigger_column=mapped_column_lookup(table=table, column_name=entry.trigger_column),
        period=entry.period,
        period_unit=entry.unit,
        period_anchor=entry.anchor,
        action=entry.action,
        justification=entry.justification,
        legal_basis=LegalBasis.objects.get(slug=entry.basis),
        legal_source=entry.source,
        owner=actor,
        cadence=entry.cadence,
        approval_threshold=entry.approval_threshold,
    )


def load_demo(stdout) -> None:
    """The back office's own data map, the default schedule, two holds, a dry run of every rule and one sweep.

    Safe to run again: the map import changes nothing the second time, rules and holds are matched by name,
    and the first runs are only made while there is no run at all.
    """
    officer = get_user_model().objects.filter(username="officer").first()
    report = datamap_import_file(BACKOFFICE_MAP)
    stdout.write(f"Data map of the back office's own records: {report}.")
    created = 0
    for entry in DEFAULT_SCHEDULE:
        if not SystemOfRecord.objects.filter(slug=entry.system).exists():
            continue
        try:
            created += default_rule_create(entry, actor=officer) is not None
        except ValidationError as exc:
            stdout.write(f"Retention: rule '{entry.name}' not created: {'; '.join(exc.messages)}")
    stdout.write(f"Retention: {created} rules of the default schedule created.")
    if officer is not None:
        _demo_holds(officer, stdout)
    if not RetentionRun.objects.exists():
        _first_runs(officer, stdout)


def _demo_holds(officer, stdout) -> None:
    platform = SystemOfRecord.objects.filter(slug=PLATFORM).first()
    if platform is not None and not LegalHold.objects.filter(name="Litigation 2026-14").exists():
        try:
            subjects = get_connector(platform).sample_subjects(2)
        except ConnectorError:
            subjects = []
        if subjects:
            subject = subjects[-1]
            legal_hold_place(
                actor=officer,
                name="Litigation 2026-14",
                reason=LegalHold.Reason.LITIGATION,
                description="Claim about disputed usage charges; keep everything of the claimant.",
                subject_account_ref=subject.account_ref or "",
                subject_email=subject.email or "",
            )
            stdout.write("Retention: legal hold 'Litigation 2026-14' placed on one sample account.")
    if not LegalHold.objects.filter(name="HMRC enquiry 2026").exists():
        legal_hold_place(
            actor=officer,
            name="HMRC enquiry 2026",
            reason=LegalHold.Reason.REGULATOR_INQUIRY,
            description="VAT enquiry: keep every billing record until it closes.",
            data_category=DataCategory.objects.get(slug="billing-transactions"),
            ends_at=timezone.now() + timedelta(days=180),
        )
        stdout.write("Retention: legal hold 'HMRC enquiry 2026' placed on billing data for 180 days.")


def _first_runs(officer, stdout) -> None:
    """A dry run of every rule, so the matrix and the runs list have figures; one real sweep with evidence."""
    for rule in RetentionRule.objects.filter(is_enabled=True).order_by("pk"):
        run = retention_run_start(rule_id=rule.pk, mode=RetentionRun.Mode.DRY_RUN, actor=officer, origin="admin")
        stdout.write(f"Retention: dry run of '{rule.name}': {run.rows_to_affect:,} of {run.rows_matched:,} rows due.")
    rule = RetentionRule.objects.filter(name="Website visitor events: 90 days").first()
    if rule is None:
        return
    run = retention_run_start(rule_id=rule.pk, actor=officer, origin="admin", enqueue=False)
    if run.status == RunStatus.QUEUED:
        run = retention_run_execute(run_id=run.pk)
    stdout.write(
        f"Retention: '{rule.name}' swept: {run.rows_affected:,} rows deleted, evidence {run.evidence_sha256[:16]}..."
    )
