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
from compliance.models import DataCategory, LegalBasis, Regime, SystemOfRecord
from retention.models import LegalHold, RetentionRule, RetentionRun, RunStatus
from retention.services import (
    legal_hold_place,
    retention_rule_create,
    retention_rule_regime_basis_set,
    retention_run_execute,
    retention_run_start,
)
from retention.services.rules import mapped_column_lookup, mapped_table_lookup

PLATFORM = "studio-platform"
BACKOFFICE = "studio-backoffice"
BACKOFFICE_MAP = Path(__file__).resolve().parent / "backoffice_datamap.yaml"
# Records of requests: for UK and EU requests the basis is the controller's accountability (Art. 5(2), legitimate
# interests: showing how each request was answered); the CCPA and Colorado make keeping them a legal obligation.
REQUEST_RECORDS_BASES = (
    ("ccpa", "legal-obligation", "CCPA regulations, 11 CCR §7101 (records of requests: at least 24 months)"),
    ("cpa", "legal-obligation", "Colorado Privacy Act Rule 6.11 (records of requests: at least 24 months)"),
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
    regime_bases: tuple[tuple[str, str, str], ...] = ()  # (regime code, legal basis slug, source)

    @property
    def trigger(self) -> str:
        return "subject_event" if "." in self.trigger_column else "row_timestamp"


# Legal holds: counted from when the hold ended, its release or its 'until' date if that came first (a hold
# that lapsed unreleased counts as released on its end date). Migration retention 0004 renames and repoints
# the rules of earlier versions, which counted from the release only and never swept a lapsed hold.
HOLDS_RULE = "Legal holds: anonymise 6 years after release or lapse"
HOLDS_JUSTIFICATION = (
    "A hold is the reason data outlived its retention rule and escaped erasure; its record must answer for "
    "that (establishment, exercise or defence of legal claims, Art. 17(3)(e)) as long as a claim about the "
    "dispute or the keeping can still be brought: 6 years after the hold ended, the limitation period for claims "
    "in contract and tort (Limitation Act 1980, ss. 2 and 5). A hold ends when it is released, or on its 'until' "
    "date if that comes first: one that lapsed without a release counts as released on that date. Then the "
    "subject, the case description and the release reason are redacted; the name, scope and dates stay."
)
HOLDS_HISTORY_RULE = "History of legal holds: delete 6 years after release or lapse"
HOLDS_HISTORY_JUSTIFICATION = (
    "Change-history snapshots of holds repeat the subject and the case; they go with the anonymisation of the "
    "hold, 6 years after it ended (released, or lapsed on its 'until' date: the limitation period)."
)

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
        "Support messages: 12 months after the ticket's last activity",
        PLATFORM,
        "support_messages",
        "support",
        "support_tickets.last_activity_at",
        12,
        "months",
        "delete",
        "legitimate-interests",
        "Support conversations help with follow-up questions for a year after the ticket closed, or after its "
        "last message when it was never closed.",
        cadence="30 1 * * *",
    ),
    DefaultRule(
        "Support tickets: 12 months after the last activity",
        PLATFORM,
        "support_tickets",
        "support",
        "last_activity_at",
        12,
        "months",
        "delete",
        "legitimate-interests",
        "Tickets are kept a year after their last activity (closing a ticket is its last activity) for follow-ups "
        "and disputes, then deleted (REGULATIONS §3). A ticket never closed is not kept forever: it goes a year "
        "after its last message.",
        cadence="40 1 * * *",
    ),
    DefaultRule(
        "Organisation billing email: anonymise 12 months after the organisation closed",
        PLATFORM,
        "organisations",
        "account-identity",
        "closed_at",
        12,
        "months",
        "anonymise",
        "legitimate-interests",
        "The billing address of an organisation is often a person's own email: it serves invoicing and billing "
        "questions while the organisation is a customer and for a year after, then it is redacted. Erasure finds "
        "it by the person's email.",
        cadence="45 1 * * *",
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
        "After 30 days a closed account's name and login id are removed and its email replaced by a keyed hash. "
        "That is pseudonymisation, not anonymisation (Recital 26): the hash still singles the person out and the "
        "invoices kept for tax refer to the row. The row itself goes with the rule below.",
        cadence="0 2 * * *",
    ),
    DefaultRule(
        "Closed accounts: delete the pseudonymised row 7 years after the financial year of closure",
        PLATFORM,
        "accounts",
        "account-identity",
        "closed_at",
        7,
        "years",
        "delete",
        "legitimate-interests",
        "The pseudonymised row (keyed hash of the email) only keeps the references of the invoices and wallet "
        "transactions kept for tax, which go 6 years after the financial year; a year later the row goes too, "
        "so nothing pseudonymised outlives the records it serves.",
        anchor="financial_year_end",
        cadence="20 3 * * 0",
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
    DefaultRule(
        "Refund letters: 6 years after the financial year",
        "finance-shared-drive",
        "refund-letters",
        "billing-transactions",
        "sent-on",
        6,
        "years",
        "delete",
        "legal-obligation",
        "Refund correspondence supports the accounting records of the refund (policy §6: accounting and tax "
        "obligations); a person deletes the folders the sweep's task lists.",
        source="UK company tax records: 6 years from the end of the financial year (REGULATIONS §3)",
        anchor="financial_year_end",
        cadence="30 3 * * 0",
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
        "legitimate-interests",
        "Records of requests and how they were answered are kept 24 months (REGULATIONS §3); then the "
        "requester's name, email, account and free text are anonymised and the figures stay for statistics.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots repeat the requester's details; they go with the anonymisation of the request.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Letters are part of the record of how a request was answered; after 24 months the address, subject "
        "and text are anonymised.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots of letters go with the anonymisation of the letters.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Staff notes are part of the record of the request for 24 months.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots of notes go with the anonymisation of the notes.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "The bundle's file is purged at expiry by the fulfilment job; the record of who downloaded it (a keyed "
        "hash of the address) is evidence of the answer for 24 months, then deleted.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Each right's outcome stays for statistics and accountability; the reasons and evidence notes, which may "
        "quote the requester, are redacted with the request.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots of lines go with the anonymisation of the lines.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "The event ledger shows the deadlines were met; its free-text reasons are redacted with the request.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Plans show what was exported or erased, table by table; the rectification text they carry is redacted.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots of plans go with the anonymisation of the plans.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Whom we told (Art. 19) and when they confirmed stays as evidence; the notice text naming the subject is "
        "redacted.",
        regime_bases=REQUEST_RECORDS_BASES,
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
        "legitimate-interests",
        "Change-history snapshots of notices go with the anonymisation of the notices.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="5 5 * * *",
    ),
    DefaultRule(
        "Appeals of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "requests_app_appeal",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legitimate-interests",
        "An appeal and its decision are part of the record of how the request was answered; after 24 months the "
        "requester's statement and the reasons given are redacted and the dates and outcome stay for statistics.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="15 5 * * *",
    ),
    DefaultRule(
        "History of appeals: delete 24 months after the request closed",
        BACKOFFICE,
        "requests_app_historicalappeal",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legitimate-interests",
        "Change-history snapshots of appeals repeat the statement and reasons; they go with the anonymisation of "
        "the appeals.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="20 5 * * *",
    ),
    DefaultRule(
        "Fulfilment steps of closed requests: anonymise 24 months after closure",
        BACKOFFICE,
        "fulfilment_fulfilmentstep",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "anonymise",
        "legitimate-interests",
        "The steps show, system by system and table by table, what was located, exported, erased or kept: they "
        "are part of the record of the request and are kept with it, 24 months after closure; then a waiver's "
        "free-text reason is redacted and the counts stay.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="25 5 * * *",
    ),
    DefaultRule(
        "History of fulfilment steps: delete 24 months after the request closed",
        BACKOFFICE,
        "fulfilment_historicalfulfilmentstep",
        "support",
        "requests_app_rightsrequest.closed_at",
        24,
        "months",
        "delete",
        "legitimate-interests",
        "Change-history snapshots of steps repeat the waiver's reason; they go with the anonymisation of the steps.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="30 5 * * *",
    ),
    DefaultRule(
        "Manual tasks: anonymise 24 months after completion",
        BACKOFFICE,
        "compliance_manualtask",
        "account-identity",
        "completed_at",
        24,
        "months",
        "anonymise",
        "legitimate-interests",
        "A manual task is the evidence that a person located, exported or erased the subject's data in a system "
        "the back office cannot reach: it belongs to the record of the request and is kept like it, 24 months "
        "(counted from the task's completion, which comes before the request closes). Then the subject's "
        "identifiers (already cleared at completion) and the outcome text are redacted; system, dates and counts "
        "stay.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="35 5 * * *",
    ),
    DefaultRule(
        "History of manual tasks: delete 24 months after completion",
        BACKOFFICE,
        "compliance_historicalmanualtask",
        "account-identity",
        "compliance_manualtask.completed_at",
        24,
        "months",
        "delete",
        "legitimate-interests",
        "Snapshots taken while a task was open carry the subject's email and account reference; they go with the "
        "anonymisation of the task.",
        regime_bases=REQUEST_RECORDS_BASES,
        cadence="40 5 * * *",
    ),
    DefaultRule(
        HOLDS_RULE,
        BACKOFFICE,
        "retention_legalhold",
        "account-identity",
        "ended_at",
        6,
        "years",
        "anonymise",
        "legitimate-interests",
        HOLDS_JUSTIFICATION,
        cadence="45 5 * * *",
    ),
    DefaultRule(
        HOLDS_HISTORY_RULE,
        BACKOFFICE,
        "retention_historicallegalhold",
        "account-identity",
        "retention_legalhold.ended_at",
        6,
        "years",
        "delete",
        "legitimate-interests",
        HOLDS_HISTORY_JUSTIFICATION,
        cadence="50 5 * * *",
    ),
    DefaultRule(
        "Erasure ledger: delete 13 months after the erasure",
        BACKOFFICE,
        "fulfilment_erasureledgerentry",
        "account-identity",
        "erased_at",
        13,
        "months",
        "delete",
        "legitimate-interests",
        "The ledger's keyed hashes are only needed to erase the subject again if a database is restored from a "
        "backup taken before the erasure (Art. 17: erased data must stay erased). They are kept as long as such a "
        "backup can exist: the backup retention (12 months, the longest-kept monthly backup) plus one month to "
        "restore and replay. Change this period with the backup policy: it must never be shorter.",
        cadence="55 5 * * *",
    ),
    DefaultRule(
        "Idempotency records: delete after 7 days",
        BACKOFFICE,
        "requests_app_idempotencyrecord",
        "account-identity",
        "created_at",
        7,
        "days",
        "delete",
        "legitimate-interests",
        "An Idempotency-Key only guards an API client's automatic retries of the same POST (after a timeout or "
        "an outage), which happen within minutes or hours; a week covers a client down over a long weekend. "
        "After that the hash of the body, which held the requester's details, has no use.",
        cadence="0 6 * * *",
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
    rule = retention_rule_create(
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
    for code, basis, source in entry.regime_bases:
        regime = Regime.objects.filter(code=code).first()
        if regime is not None:
            retention_rule_regime_basis_set(
                rule=rule,
                regime=regime,
                legal_basis=LegalBasis.objects.get(slug=basis),
                legal_source=source,
                actor=actor,
            )
    return rule


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
