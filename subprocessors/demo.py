"""Demo data: a realistic register of a dozen (fictional) vendors across the policy's categories.

What happened before today (vendors active for months, a vendor removed last
quarter) is written directly, as an import of the previous spreadsheet would be;
everything from today on (announcements, an objection, notices, reminders, the
digest) goes through the services, exactly as staff and workers would do it.
Safe to run again: existing rows are left alone and nothing is sent twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from compliance.models import DataCategory, ProcessingActivity, ProcessingPurpose, SubjectType, SystemOfRecord
from subprocessors.adequacy import adequacy_list_load
from subprocessors.models import (
    ChangeObjection,
    CustomerContract,
    DataProcessingAgreement,
    NoticeSubscriber,
    ProcessingLocation,
    SecurityAttestation,
    Subprocessor,
    SubprocessorChange,
    private_storage,
)
from subprocessors.services.changes import (
    change_objection_record,
    earliest_effective_date,
    subprocessor_change_announce,
)
from subprocessors.services.notices import change_notices_send_pending
from subprocessors.services.register import processing_location_save
from subprocessors.services.reminders import expiry_reminders_send, register_digest_send

M = ProcessingLocation.Mechanism

# Locations are (country, mechanism, SCC module); attestations (kind, days until expiry);
# active_days: how long ago the vendor became active (None: not active yet).
VENDORS = [
    {
        "slug": "stratus-cloud",
        "legal_name": "Stratus Cloud Europe Ltd",
        "trading_name": "Stratus Cloud",
        "category": "cloud",
        "service": "Hosting of the Studio platform: compute, managed databases, object storage and backups.",
        "purposes": ["request-routing", "usage-metering", "billing", "support", "reliability"],
        "categories": ["account-identity", "billing-transactions", "api-usage", "content", "support"],
        "locations": [("IE", M.NONE_REQUIRED, ""), ("DE", M.NONE_REQUIRED, "")],
        "risk": "high",
        "attestations": [("soc2_type2", 210), ("iso27001", 400)],
        "active_days": 900,
        "hosts_systems": True,
    },
    {
        "slug": "keystone-id",
        "legal_name": "Keystone Identity Inc.",
        "trading_name": "Keystone ID",
        "category": "identity",
        "service": "Sign-in, single sign-on and multi-factor authentication for dashboard users.",
        "purposes": ["authentication"],
        "categories": ["account-identity"],
        "locations": [("US", M.EU_US_DPF, ""), ("US", M.UK_DPF_EXTENSION, "")],
        "risk": "high",
        "attestations": [("soc2_type2", 150), ("iso27001", 300)],
        "active_days": 800,
    },
    {
        "slug": "ledgerline",
        "legal_name": "Ledgerline Payments Ltd",
        "trading_name": "Ledgerline",
        "category": "payments",
        "service": "Card payments for wallet top-ups; card numbers never reach Studio (policy §5).",
        "purposes": ["billing", "fraud-prevention"],
        "categories": ["billing-transactions", "account-identity"],
        "locations": [("GB", M.NONE_REQUIRED, ""), ("IE", M.NONE_REQUIRED, "")],
        "risk": "high",
        "attestations": [("pci_dss", 120), ("soc2_type2", 240)],
        "active_days": 850,
    },
    {
        "slug": "beacon-observability",
        "legal_name": "Beacon Observability Inc.",
        "trading_name": "Beacon",
        "category": "observability",
        "service": "Application performance monitoring and error tracking.",
        "purposes": ["reliability"],
        "categories": ["api-usage"],
        "locations": [("US", M.EU_SCC, "3"), ("US", M.UK_ADDENDUM, "3")],
        "risk": "medium",
        # Expires within 60 days: the demo's reminder job emails the owner.
        "attestations": [("soc2_type2", 45)],
        "active_days": 500,
    },
    {
        "slug": "tracewell",
        "legal_name": "Tracewell Logs GmbH",
        "trading_name": "Tracewell",
        "category": "observability",
        "service": "Central log storage and search for security and troubleshooting.",
        "purposes": ["reliability", "abuse-detection"],
        "categories": ["api-usage"],
        "locations": [("DE", M.NONE_REQUIRED, "")],
        "risk": "medium",
        "attestations": [("iso27001", 260)],
        "active_days": 420,
    },
    {
        "slug": "northwind-ai",
        "legal_name": "Northwind AI Inc.",
        "trading_name": "Northwind AI",
        "category": "ai_inference",
        "service": "Inference for the large language models customers route requests to.",
        "purposes": ["request-routing"],
        "categories": ["content", "api-usage"],
        "locations": [("US", M.EU_US_DPF, ""), ("US", M.UK_DPF_EXTENSION, "")],
        "risk": "critical",
        "attestations": [("soc2_type2", 180), ("iso42001", 330)],
        "active_days": 700,
    },
    {
        "slug": "sakura-inference",
        "legal_name": "Sakura Inference K.K.",
        "trading_name": "Sakura Inference",
        "category": "ai_inference",
        "service": "Inference for Japanese-language and multilingual models, hosted in Tokyo.",
        "purposes": ["request-routing"],
        "categories": ["content", "api-usage"],
        "locations": [("JP", M.ADEQUACY, "")],
        "risk": "high",
        "attestations": [("iso27001", 365)],
        "active_days": 40,
    },
    {
        "slug": "meridian-models",
        "legal_name": "Meridian Models SAS",
        "trading_name": "Meridian",
        "category": "ai_inference",
        "service": "Inference for open-weight models hosted in the EU.",
        "purposes": ["request-routing"],
        "categories": ["content", "api-usage"],
        "locations": [("FR", M.NONE_REQUIRED, "")],
        "risk": "high",
        "attestations": [("iso27001", 200), ("soc2_type1", 90)],
        "active_days": 300,
    },
    {
        "slug": "postbox-mail",
        "legal_name": "Postbox Mail Ltd",
        "trading_name": "Postbox",
        "category": "email",
        "service": "Delivery of transactional email: sign-in links, receipts, notices.",
        "purposes": ["authentication", "billing", "support"],
        "categories": ["account-identity"],
        "locations": [("GB", M.NONE_REQUIRED, ""), ("US", M.UK_IDTA, "")],
        "risk": "medium",
        "attestations": [("soc2_type2", 95)],
        "active_days": 600,
    },
    {
        "slug": "helpdeck",
        "legal_name": "Helpdeck Software Ltd",
        "trading_name": "Helpdeck",
        "category": "support",
        "service": "The support desk where customer tickets are answered.",
        "purposes": ["support"],
        "categories": ["support"],
        "locations": [("IE", M.NONE_REQUIRED, ""), ("IN", M.EU_SCC, "3")],
        "risk": "medium",
        "attestations": [("iso27001", 150)],
        "active_days": 650,
    },
    {
        "slug": "cobalt-signals",
        "legal_name": "Cobalt Fraud Signals Ltd",
        "trading_name": "Cobalt Signals",
        "category": "payments",
        "service": "Device and payment risk scoring to stop fraudulent top-ups.",
        "purposes": ["fraud-prevention"],
        "categories": ["billing-transactions", "api-usage"],
        "locations": [("GB", M.NONE_REQUIRED, ""), ("CA", M.ADEQUACY, "")],
        "risk": "high",
        "attestations": [("soc2_type2", 300)],
        "active_days": None,  # announced today: the notice period is running
    },
    {
        "slug": "quill-assist",
        "legal_name": "Quill Assist Inc.",
        "trading_name": "Quill Assist",
        "category": "support",
        "service": "AI drafting of support replies (under evaluation).",
        "purposes": ["support"],
        "categories": ["support"],
        "locations": [("US", M.EU_SCC, "3")],
        "risk": "high",
        "attestations": [],
        "active_days": None,  # proposed: internal only, never on the public pages
    },
    {
        "slug": "oldpost-mailer",
        "legal_name": "Oldpost Mailer Inc.",
        "trading_name": "Oldpost",
        "category": "email",
        "service": "Former transactional email provider, replaced by Postbox.",
        "purposes": ["authentication", "billing"],
        "categories": ["account-identity"],
        "locations": [("US", M.EU_SCC, "3")],
        "risk": "medium",
        "attestations": [],
        "active_days": 1200,
        "retired_days": 90,
    },
]

CUSTOMERS = [
    ("Acme Analytics Ltd", "DPA-2025-014", 30),
    ("Globex Health GmbH", "DPA-2024-087", 30),
    ("Initech Labs Inc.", "MSA-2025-003", None),
]

# The smallest well-formed PDF: a stand-in for a scanned, signed DPA.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def load_demo(*, stdout=None) -> None:
    adequacy_list_load()  # the migration loaded it; a flushed database gets it back
    created = _load_register()
    _announce_and_object()
    _subscribers()
    sent = change_notices_send_pending()
    reminders = expiry_reminders_send()
    digest = register_digest_send()
    if stdout is not None:
        stdout.write(
            f"Subprocessor register: {created} vendors created, {sent['sent']} change notices sent, "
            f"{reminders['sent']} reminders sent, digest {'sent' if digest else 'already sent this week'}."
        )


@transaction.atomic
def _load_register() -> int:
    today = timezone.localdate()
    now = timezone.now()
    owner = get_user_model().objects.filter(username="officer").first()
    purposes = {p.slug: p for p in ProcessingPurpose.objects.all()}
    categories = {c.slug: c for c in DataCategory.objects.all()}
    subject_types = list(SubjectType.objects.filter(slug__in=["account-user", "administrator", "api-user"]))
    created = 0
    for spec in VENDORS:
        if Subprocessor.objects.filter(slug=spec["slug"]).exists():
            continue
        created += 1
        sub = Subprocessor.objects.create(
            slug=spec["slug"],
            legal_name=spec["legal_name"],
            trading_name=spec["trading_name"],
            website=f"https://{spec['slug']}.example.com",
            category=spec["category"],
            service_description=spec["service"],
            risk_rating=spec["risk"],
            internal_owner=owner,
            privacy_contact_email=f"privacy@{spec['slug']}.example.com",
            notes="Demo vendor.",
        )
        sub.purposes.set([purposes[slug] for slug in spec["purposes"]])
        sub.data_categories.set([categories[slug] for slug in spec["categories"]])
        sub.subject_types.set(subject_types)
        sub.processing_activities.set(ProcessingActivity.objects.filter(purpose__slug__in=spec["purposes"]))
        if spec.get("hosts_systems"):
            sub.systems_of_record.set(SystemOfRecord.objects.all())
        for country, mechanism, module in spec["locations"]:
            processing_location_save(
                location=ProcessingLocation(
                    subprocessor=sub,
                    country=country,
                    mechanism=mechanism,
                    scc_module=module,
                    mechanism_reference="DPA annex II"
                    if mechanism not in ProcessingLocation.COUNTRY_MECHANISMS
                    else "",
                    description="Processing and storage",
                ),
                actor=owner,
            )
        active_days = spec["active_days"]
        signed = today - timedelta(days=(active_days or 10) + 20)
        dpa = DataProcessingAgreement(
            subprocessor=sub,
            version="2024-01" if active_days and active_days > 365 else "2025-06",
            signed_on=signed,
            # Beacon's DPA review falls within 30 days: it shows in the digest and reminders.
            review_on=today + timedelta(days=25)
            if spec["slug"] == "beacon-observability"
            else signed + timedelta(days=730),
            includes_sccs=any(m == M.EU_SCC for _, m, _ in spec["locations"]),
        )
        if spec["slug"] in {"stratus-cloud", "northwind-ai"}:
            name = f"dpa/demo/{spec['slug']}.pdf"
            storage = private_storage()
            if not storage.exists(name):
                storage.save(name, ContentFile(DEMO_PDF))
            dpa.document = name
        if spec["slug"] != "quill-assist":
            dpa.full_clean()
            dpa.save()
        for kind, days in spec["attestations"]:
            SecurityAttestation.objects.create(
                subprocessor=sub,
                kind=kind,
                issued_on=today + timedelta(days=days) - timedelta(days=365),
                expires_on=today + timedelta(days=days),
                issuer="Example Assurance LLP",
            )
        if active_days is not None:
            # The addition that made it active, long before the register came to this tool.
            announced = now - timedelta(days=active_days + 30)
            SubprocessorChange.objects.create(
                subprocessor=sub,
                kind=SubprocessorChange.Kind.ADDITION,
                summary=f"We are adding {sub} ({spec['service'][0].lower()}{spec['service'][1:]})",
                status=SubprocessorChange.Status.EFFECTIVE,
                announced_at=announced,
                announced_on=timezone.localdate(announced),
                notice_days=30,
                effective_on=today - timedelta(days=active_days),
                effective_at=now - timedelta(days=active_days),
            )
            status, retired_on = Subprocessor.Status.ACTIVE, None
            if spec.get("retired_days"):
                removal_effective = today - timedelta(days=spec["retired_days"])
                SubprocessorChange.objects.create(
                    subprocessor=sub,
                    kind=SubprocessorChange.Kind.REMOVAL,
                    summary=f"We are removing {sub}: transactional email moves to Postbox.",
                    status=SubprocessorChange.Status.EFFECTIVE,
                    announced_at=now - timedelta(days=spec["retired_days"] + 30),
                    announced_on=removal_effective - timedelta(days=30),
                    notice_days=30,
                    effective_on=removal_effective,
                    effective_at=now - timedelta(days=spec["retired_days"]),
                )
                status, retired_on = Subprocessor.Status.RETIRED, removal_effective
            Subprocessor.objects.filter(pk=sub.pk).update(
                status=status, active_since=today - timedelta(days=active_days), retired_on=retired_on
            )
    for name, reference, notice_days in CUSTOMERS:
        CustomerContract.objects.get_or_create(name=name, defaults={"reference": reference, "notice_days": notice_days})
    return created


def _announce_and_object() -> None:
    """Today's business, through the services: three announcements and an objection."""
    officer = get_user_model().objects.filter(username="officer").first()
    running = SubprocessorChange.objects.filter(status=SubprocessorChange.Status.ANNOUNCED)
    effective_on = earliest_effective_date() + timedelta(days=7)

    cobalt = Subprocessor.objects.get(slug="cobalt-signals")
    if cobalt.status == Subprocessor.Status.PROPOSED:
        subprocessor_change_announce(
            subprocessor=cobalt,
            kind=SubprocessorChange.Kind.ADDITION,
            summary="We are adding Cobalt Signals to score the fraud risk of wallet top-ups "
            "(device and payment signals; processed in the UK and Canada).",
            effective_on=effective_on,
            actor=officer,
        )
    addition = running.filter(subprocessor=cobalt, kind=SubprocessorChange.Kind.ADDITION).first()
    globex = CustomerContract.objects.get(name="Globex Health GmbH")
    if addition and not ChangeObjection.objects.filter(change=addition).exists():
        change_objection_record(
            change=addition,
            customer=globex,
            received_on=timezone.localdate(),
            grounds="Our DPA restricts processing of payment data outside the EEA and UK; "
            "please confirm Canadian processing is limited to risk scores.",
            actor=officer,
        )

    meridian = Subprocessor.objects.get(slug="meridian-models")
    if not meridian.locations.filter(country="CA").exists():
        location = processing_location_save(
            location=ProcessingLocation(
                subprocessor=meridian,
                country="CA",
                mechanism=M.ADEQUACY,
                description="Additional inference capacity in Montréal",
            ),
            actor=officer,
        )
        subprocessor_change_announce(
            subprocessor=meridian,
            kind=SubprocessorChange.Kind.NEW_LOCATION,
            summary="Meridian will also serve inference from Canada (Montréal) to add capacity.",
            effective_on=effective_on,
            location=location,
            actor=officer,
        )

    helpdeck = Subprocessor.objects.get(slug="helpdeck")
    account = DataCategory.objects.get(slug="account-identity")
    if (
        not helpdeck.data_categories.filter(pk=account.pk).exists()
        and not helpdeck.changes.filter(kind=SubprocessorChange.Kind.NEW_DATA_CATEGORY).exists()
    ):
        subprocessor_change_announce(
            subprocessor=helpdeck,
            kind=SubprocessorChange.Kind.NEW_DATA_CATEGORY,
            summary="Helpdeck will receive account names and email addresses so agents can find a customer's "
            "account from a ticket.",
            effective_on=effective_on,
            data_category=account,
            actor=officer,
        )


def _subscribers() -> None:
    """Two confirmed subscribers (as if they had clicked their links) and one still pending."""
    now = timezone.now()
    for email, confirmed in [
        ("dpo@acme-analytics.example", True),
        ("privacy@globex-health.example", True),
        ("procurement@initech.example", False),
    ]:
        NoticeSubscriber.objects.get_or_create(
            email=email,
            defaults={"confirmation_sent_at": now, "confirmed_at": now if confirmed else None},
        )
