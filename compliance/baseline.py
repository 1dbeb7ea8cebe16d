"""The policy baseline: the taxonomy of the privacy policy and the regimes of REGULATIONS.md.

Loaded by ``manage.py load_policy_baseline`` (and the demo command). Loading
creates what is missing and leaves existing rows alone, so corrections staff make
in the admin survive a reload; ``--update`` brings existing rows back to these values.
"""

from __future__ import annotations

import datetime as dt

DATA_CATEGORIES = [
    {
        "slug": "account-identity",
        "name": "Account and identity data",
        "policy_section": "§2",
        "description": "Who the user is and what they may do on the platform.",
        "examples": "Name\nEmail address\nOrganisation membership\nAuthentication identifiers\nRole permissions",
    },
    {
        "slug": "billing-transactions",
        "name": "Billing and transaction data",
        "policy_section": "§2",
        "description": "Money moving through the wallet and the records tax law requires. "
        "Full card numbers are never stored (§5).",
        "examples": "Wallet balance activity\nTop-up records\nInvoices\n"
        "Payment status metadata from payment processors",
    },
    {
        "slug": "api-usage",
        "name": "API and usage data",
        "policy_section": "§2",
        "description": "Metadata of API calls and the signals used for metering, security and reliability.",
        "examples": "Request and response metadata\nModel identifiers\nToken and usage metrics\nLogs\n"
        "IP address and device signals\nError telemetry",
    },
    {
        "slug": "content",
        "name": "Content data",
        "policy_section": "§2",
        "description": "What users send to models and what models return. Untrusted input.",
        "examples": "Prompts\nInputs\nGenerated outputs",
    },
    {
        "slug": "support",
        "name": "Support data",
        "policy_section": "§2",
        "description": "Conversations with support and what users share in them.",
        "examples": "Messages\nTickets\nOperational diagnostics shared during support",
    },
]

PURPOSES = [
    ("authentication", "Authentication", "Signing users in and securing their accounts."),
    ("request-routing", "Request routing", "Routing API requests to AI model providers."),
    ("usage-metering", "Usage metering", "Counting tokens and usage for quotas and charges."),
    ("billing", "Billing", "Wallet top-ups, usage debits and invoices."),
    ("fraud-prevention", "Fraud prevention", "Detecting payment and account fraud."),
    ("abuse-detection", "Abuse detection", "Detecting misuse of the Service and enforcing its terms."),
    ("support", "Customer support", "Answering support requests."),
    ("reliability", "Reliability and troubleshooting", "Maintaining platform reliability and fixing incidents."),
    ("legal-compliance", "Legal compliance", "Meeting legal obligations, court orders and regulator requests."),
]

LEGAL_BASES = [
    ("contract", "Contract performance", "Art. 6(1)(b)", "Needed to provide the Service the user signed up for."),
    (
        "legitimate-interests",
        "Legitimate interests",
        "Art. 6(1)(f)",
        "Security, fraud and abuse controls, reliability.",
    ),
    ("legal-obligation", "Legal obligation", "Art. 6(1)(c)", "Accounting and tax records, lawful requests."),
    ("consent", "Consent", "Art. 6(1)(a)", "Where required, e.g. optional cookies; may be withdrawn."),
    ("vital-interests", "Vital interests", "Art. 6(1)(d)", "Protecting someone's life; listed for completeness."),
    ("public-task", "Public task", "Art. 6(1)(e)", "Tasks in the public interest; listed for completeness."),
]

SUBJECT_TYPES = [
    ("account-user", "Account users", "People with an account on the Studio dashboard."),
    ("administrator", "Administrators", "Users who manage an organisation's account and members."),
    ("api-user", "API users", "People and systems calling the Studio API with a key."),
    ("website-visitor", "Website visitors", "Visitors of the public website, signed in or not."),
]

RIGHTS = [
    ("access", "Access", "Confirmation of processing and a copy of the data (GDPR Art. 15)."),
    ("rectification", "Rectification", "Correction of inaccurate data (Art. 16)."),
    ("erasure", "Erasure", "Deletion of data (Art. 17)."),
    ("restriction", "Restriction", "Restriction of processing (Art. 18)."),
    ("objection", "Objection", "Objection to processing (Art. 21)."),
    ("portability", "Portability", "The data in a structured, machine-readable format (Art. 20)."),
    ("withdraw_consent", "Withdraw consent", "Withdrawal of consent (Art. 7(3))."),
    ("opt_out", "Opt-out of sale or sharing", "Opt-out of sale, sharing or targeted advertising (US states)."),
    ("limit_sensitive", "Limit use of sensitive data", "Limit the use of sensitive personal information (CCPA)."),
]

# How a person uses each right, in plain words (shown beside the rights a regime grants in access answers).
HOW_TO_USE = {
    "access": "Ask us for a copy of your data and how we use it; we answer free of charge.",
    "rectification": "Tell us what is wrong or incomplete and what it should say; we correct it.",
    "erasure": "Ask us to delete your data; we delete what the law does not require us to keep and tell you "
    "what we keep and why.",
    "restriction": "Ask us to stop using your data while keeping it, e.g. while you contest its accuracy.",
    "objection": "Tell us you object to a use based on our legitimate interests; we stop unless we have "
    "compelling grounds.",
    "portability": "Ask for your data in a machine-readable file (this bundle's CSV and JSON files) to take it "
    "to another service.",
    "withdraw_consent": "Tell us you withdraw a consent you gave; we stop what relied on it from then on.",
    "opt_out": "Tell us not to sell or share your personal information or use it for targeted advertising; no "
    "identity check is needed.",
    "limit_sensitive": "Tell us to use your sensitive personal information only as needed to provide the service.",
}

GDPR_RIGHTS = ["access", "rectification", "erasure", "restriction", "objection", "portability", "withdraw_consent"]
US_STATE_RIGHTS = ["access", "rectification", "erasure", "portability", "opt_out", "withdraw_consent"]

EU_EEA_COUNTRIES = [
    # EU member states, then the EEA's Iceland, Liechtenstein and Norway.
    *[
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ],
    *["IS", "LI", "NO"],
]


def eu_holiday_country() -> str:
    """EU GDPR rolls over the holidays of the member state where the controller's EU establishment or
    representative acts (Regulation 1182/71): a setting, Ireland when none is named (REGULATIONS §1)."""
    from django.conf import settings

    return settings.EU_GDPR_HOLIDAY_COUNTRY


_UK_EU_COMMON = {
    "response_period": 1,
    "response_unit": "calendar_months",
    "extension_period": 2,
    "extension_requires_reason": True,
    "extension_notice_before_due": True,
    "roll_to_working_day": True,
    "holiday_country": "GB",
    "holiday_subdivision": "ENG",
    "internal_margin_days": 3,
    "courts_remedy": True,  # Art. 79: a judicial remedy against the controller
}

# How identity is verified, as a CCPA acknowledgement must describe it (11 CCR §7021(a)).
CCPA_VERIFICATION = (
    "Before we give you your data, correct it or delete it, we check that you are the person it is about. We "
    "match what you tell us against what we already hold: the email address you wrote from (we may send a "
    "one-time code to it), and for an account, that you can sign in to it or details only its holder knows. "
    "For specific pieces of data we ask for a little more. We use what you give us only to verify you, and we "
    "never ask for more than we need. A request to opt out of the sale or sharing of your data, or to limit "
    "the use of sensitive data, needs no verification. If someone acts for you, we ask for your signed "
    "permission and may check your identity with you directly."
)

# Statements of §1b that come from secondary sources: the row says so, and the team corrects it.
UNVERIFIED = "Marked '?' in REGULATIONS §1b (secondary source, not read in the statute): "


def _us_state(
    code,
    name,
    region,
    time_zone,
    source,
    authority,
    url,
    *,
    appeal_period=60,
    appeal_extension_period=None,
    opt_out_verification=True,
    rights=None,
    unverified=(),
    notes="",
    **extra,
):
    """A US state law of REGULATIONS §1b: 45 days, one +45 extension with notice, unless noted."""
    if rights is None:
        rights = [(right, {}) for right in US_STATE_RIGHTS]
    rights = [
        (right, {**values, "identity_verification_allowed": False})
        if right == "opt_out" and not opt_out_verification
        else (right, values)
        for right, values in rights
    ]
    note_parts = [notes] if notes else []
    if unverified:
        note_parts.append(UNVERIFIED + "; ".join(unverified) + ".")
    return {
        "code": code,
        "name": name,
        "jurisdiction": f"{name.rsplit(' ', 1)[0]}, United States",
        "source": source,
        "response_period": 45,
        "response_unit": "calendar_days",
        "extension_period": 45,
        "extension_requires_reason": True,
        "extension_notice_before_due": True,
        "roll_to_working_day": False,
        "holiday_country": "US",
        "holiday_subdivision": region,
        "internal_margin_days": 5,
        "territory_countries": ["US"],
        "territory_region": region,
        "time_zone": time_zone,
        "appeal_period": appeal_period,
        "appeal_extension_period": appeal_extension_period,
        "supervisory_authority": authority,
        "supervisory_authority_url": url,
        "notes": " ".join(note_parts),
        "rights": rights,
        **extra,
    }


# Consent withdrawal where the statute says processing stops within 15 days (REGULATIONS §1).
_WITHDRAW_IN_15_DAYS = {"response_period": 15, "response_unit": "calendar_days"}

REGIMES = [
    {
        "code": "eu_gdpr",
        "name": "EU GDPR",
        "jurisdiction": "European Union / EEA",
        "source": "GDPR Art. 12(3)",
        **_UK_EU_COMMON,
        "holiday_country": eu_holiday_country,
        "holiday_subdivision": "",
        "territory_countries": EU_EEA_COUNTRIES,
        "supervisory_authority": "the data protection supervisory authority of your EU/EEA member state",
        "supervisory_authority_url": "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en",
        # No EU establishment, so no lead authority (Art. 56): the person chooses (Art. 77(1)).
        "complaint_note": "(the country where you live or work, or where you think the law was broken)",
        "notes": "No pause in the text. Extension +2 months (3 from the start) if complex or numerous, "
        "notified with reasons within the first month. Holidays: the member state of the EU establishment "
        "or representative (setting EU_GDPR_HOLIDAY_COUNTRY, Ireland by default).",
        "rights": [(right, {}) for right in GDPR_RIGHTS],
    },
    {
        "code": "uk_gdpr",
        "name": "UK GDPR",
        "jurisdiction": "United Kingdom",
        "source": "UK GDPR Art. 12(3), Art. 12A (Data (Use and Access) Act 2025); ICO guidance 8 Dec 2025",
        **_UK_EU_COMMON,
        "identity_starts_clock": True,
        "fee_starts_clock": True,
        "clarification_pauses_clock": True,
        "clock_rules_from": dt.date(2026, 2, 5),
        "territory_countries": ["GB"],
        "time_zone": "Europe/London",
        "supervisory_authority": "the Information Commissioner's Office (ICO)",
        "supervisory_authority_url": "https://ico.org.uk/make-a-complaint/",
        "notes": "From 5 Feb 2026 the clock starts at the relevant time (latest of receipt, identity "
        "information, fee) and a reasonably required clarification pauses it for access (Art. 15) only; "
        "days before the relevant time never count. Studio is UK-established: this law covers all its "
        "processing (Art. 3(1)).",
        "rights": [(right, {"clarification_pauses_clock": True} if right == "access" else {}) for right in GDPR_RIGHTS],
    },
    _us_state(
        "ccpa",
        "CCPA / CPRA",
        "CA",
        "America/Los_Angeles",
        "11 CCR §7021, §7026, §7027",
        "the California Privacy Protection Agency",
        "https://cppa.ca.gov/",
        appeal_period=None,
        jurisdiction="California, United States",
        acknowledge_period=10,
        acknowledge_unit="business_days",
        verification_process=CCPA_VERIFICATION,
        notes="45 days from receipt whatever time verification takes; may deny if identity cannot be "
        "verified within 45 days. Opt-out and limit requests: 15 business days, no verification. "
        "No appeal process in the statute.",
        rights=[(right, {}) for right in ["access", "rectification", "erasure", "portability"]]
        + [
            (
                "opt_out",
                {"response_period": 15, "response_unit": "business_days", "identity_verification_allowed": False},
            ),
            (
                "limit_sensitive",
                {"response_period": 15, "response_unit": "business_days", "identity_verification_allowed": False},
            ),
        ],
    ),
    _us_state(
        "vcdpa",
        "Virginia VCDPA",
        "VA",
        "America/New_York",
        "Va. Code §59.1-577(B), (C)",
        "the Virginia Attorney General",
        "https://www.oag.state.va.us/consumer-protection/",
        notes="Extension once, notified within the first 45 days. Appeal answered in 60 days. "
        "All requests authenticated. Profiling opt-out is handled as an opt-out line.",
    ),
    _us_state(
        "cpa",
        "Colorado CPA",
        "CO",
        "America/Denver",
        "C.R.S. §6-1-1306(2), (3); 4 CCR 904-3 Rule 6.11",
        "the Colorado Attorney General",
        "https://coag.gov/file-complaint/",
        appeal_period=45,
        appeal_extension_period=60,
        opt_out_verification=False,
        unverified=["appeal answered in 45 days, +60 with notice and reasons"],
        notes="Keep request records for at least 24 months (Rule 6.11). Universal opt-out signals honoured.",
    ),
    _us_state(
        "ctdpa",
        "Connecticut CTDPA",
        "CT",
        "America/New_York",
        "Conn. Gen. Stat. §42-518(c), (d); §42-520",
        "the Connecticut Attorney General",
        "https://portal.ct.gov/ag",
        opt_out_verification=False,
        rights=[(right, _WITHDRAW_IN_15_DAYS if right == "withdraw_consent" else {}) for right in US_STATE_RIGHTS],
        notes="Appeal answered in 60 days. Processing stops within 15 days of a consent withdrawal.",
    ),
    _us_state(
        "ucpa",
        "Utah UCPA",
        "UT",
        "America/Denver",
        "Utah Code §13-61-203",
        "the Utah Division of Consumer Protection",
        "https://consumerprotection.utah.gov/",
        appeal_period=None,
        unverified=["whether opt-outs may be verified"],
        notes="No appeal process. Deletion only of data the consumer gave us; correction from 1 Jul 2026.",
    ),
    _us_state(
        "tdpsa",
        "Texas TDPSA",
        "TX",
        "America/Denver",
        "Tex. Bus. & Com. Code §541.052, §541.053",
        "the Texas Attorney General",
        "https://www.texasattorneygeneral.gov/consumer-protection",
        unverified=["appeal answered in 60 days"],
        notes="Extension once. Time zone: El Paso (Mountain), the westernmost of the state.",
    ),
    _us_state(
        "ocpa",
        "Oregon OCPA",
        "OR",
        "America/Los_Angeles",
        "ORS 646A.576",
        "the Oregon Attorney General",
        "https://justice.oregon.gov/consumercomplaints/",
        appeal_period=45,
        opt_out_verification=False,
        rights=[(right, _WITHDRAW_IN_15_DAYS if right == "withdraw_consent" else {}) for right in US_STATE_RIGHTS],
        notes="Appeal answered in 45 days, no extension. Processing stops within 15 days of a consent "
        "withdrawal. Also a list of the specific third parties (answered within access).",
    ),
    _us_state(
        "mcdpa",
        "Montana MCDPA",
        "MT",
        "America/Denver",
        "MCA 30-14-2808",
        "the Montana Attorney General",
        "https://dojmt.gov/consumer/",
        unverified=["appeal answered in 60 days", "whether opt-outs may be verified"],
    ),
    _us_state(
        "icdpa",
        "Iowa ICDPA",
        "IA",
        "America/Chicago",
        "Iowa Code §715D.4",
        "the Iowa Attorney General",
        "https://www.iowaattorneygeneral.gov/for-consumers/file-a-consumer-complaint",
        response_period=90,
        rights=[(right, {}) for right in ["access", "erasure", "portability", "opt_out", "withdraw_consent"]],
        unverified=["appeal answered in 60 days"],
        notes="90 days, +45 with notice. No correction; the opt-out covers sale only (no targeted-ads or "
        "profiling opt-out).",
    ),
    _us_state(
        "dpdpa",
        "Delaware DPDPA",
        "DE",
        "America/New_York",
        "6 Del. C. §12D-104",
        "the Delaware Department of Justice",
        "https://attorneygeneral.delaware.gov/fraud/cpu/",
        unverified=["appeal answered in 60 days", "whether opt-outs may be verified"],
    ),
    _us_state(
        "nhpa",
        "New Hampshire NHPA",
        "NH",
        "America/New_York",
        "RSA 507-H:4",
        "the New Hampshire Attorney General",
        "https://www.doj.nh.gov/consumer/",
        unverified=["appeal answered in 60 days", "whether opt-outs may be verified"],
    ),
    _us_state(
        "njdpa",
        "New Jersey NJDPA",
        "NJ",
        "America/New_York",
        "N.J.S.A. 56:8-166.10",
        "the New Jersey Division of Consumer Affairs",
        "https://www.njconsumeraffairs.gov/",
        appeal_period=45,
        unverified=["appeal answered in 45 days", "whether opt-outs may be verified"],
        notes="The duty may run from authentication; we count from receipt (the safe side).",
    ),
    _us_state(
        "ndpa",
        "Nebraska NDPA",
        "NE",
        "America/Denver",
        "Neb. Rev. Stat. §87-1107",
        "the Nebraska Attorney General",
        "https://protectthegoodlife.nebraska.gov/",
        notes="Appeal answered in 60 days. Time zone: western Nebraska (Mountain), the westernmost.",
    ),
    _us_state(
        "tipa",
        "Tennessee TIPA",
        "TN",
        "America/Chicago",
        "Tenn. Code §47-18-3304",
        "the Tennessee Attorney General",
        "https://www.tn.gov/attorneygeneral/working-for-tennessee/consumer.html",
        unverified=["appeal answered in 60 days"],
    ),
    _us_state(
        "mcdpa_mn",
        "Minnesota MCDPA",
        "MN",
        "America/Chicago",
        "Minn. Stat. §325M.14",
        "the Minnesota Attorney General",
        "https://www.ag.state.mn.us/Office/Complaint.asp",
        appeal_period=45,
        unverified=["appeal answered in 45 days", "whether opt-outs may be verified"],
        notes="Also: question a profiling decision; a list of the specific third parties.",
    ),
    _us_state(
        "modpa",
        "Maryland MODPA",
        "MD",
        "America/New_York",
        "Md. Com. Law §14-4605",
        "the Maryland Attorney General",
        "https://www.marylandattorneygeneral.gov/Pages/CPD/complaint.aspx",
        unverified=["appeal answered in 60 days", "whether opt-outs may be verified"],
    ),
    _us_state(
        "incdpa",
        "Indiana ICDPA",
        "IN",
        "America/Chicago",
        "Ind. Code 24-15-4",
        "the Indiana Attorney General",
        "https://www.in.gov/attorneygeneral/consumer-protection-division/",
        unverified=["appeal answered in 60 days"],
        notes="Portability may be a summary.",
    ),
    _us_state(
        "kcdpa",
        "Kentucky KCDPA",
        "KY",
        "America/Chicago",
        "KRS 367.3613",
        "the Kentucky Attorney General",
        "https://www.ag.ky.gov/Resources/Consumer-Resources/Consumers/Pages/default.aspx",
        notes="Appeal answered in 60 days.",
    ),
    _us_state(
        "ridtppa",
        "Rhode Island RIDTPPA",
        "RI",
        "America/New_York",
        "R.I. Gen. Laws §6-48.1-5",
        "the Rhode Island Attorney General",
        "https://riag.ri.gov/",
        unverified=["appeal answered in 60 days", "whether opt-outs may be verified"],
    ),
    {
        "code": "lgpd",
        "name": "Brazil LGPD",
        "jurisdiction": "Brazil",
        "source": "LGPD Art. 19",
        "response_period": 15,
        "response_unit": "calendar_days",
        "extension_period": None,
        # The simplified reply is due "immediately": an acknowledgement due on the day of receipt, so the
        # digest lists it that day and the escalation job flags it the day after.
        "acknowledge_period": 0,
        "acknowledge_unit": "calendar_days",
        "roll_to_working_day": False,
        "holiday_country": "BR",
        "holiday_subdivision": "",
        "internal_margin_days": 2,
        "territory_countries": ["BR"],
        "time_zone": "America/Rio_Branco",
        "supervisory_authority": "the Autoridade Nacional de Proteção de Dados (ANPD)",
        "supervisory_authority_url": "https://www.gov.br/anpd/",
        "courts_remedy": True,  # LGPD Art. 22
        "notes": "A simplified reply immediately (the acknowledgement, due the day of receipt); the full "
        "statement within 15 days. Erasure may be met "
        "by anonymising or blocking. Time zone: Acre, the westernmost.",
        "rights": [
            (right, {})
            for right in ["access", "rectification", "erasure", "objection", "portability", "withdraw_consent"]
        ],
    },
    {
        "code": "pipeda",
        "name": "Canada PIPEDA",
        "jurisdiction": "Canada (federal)",
        "source": "PIPEDA s.8(3)-(5)",
        "response_period": 30,
        "response_unit": "calendar_days",
        "extension_period": 30,
        "extension_requires_reason": True,
        "extension_notice_before_due": True,
        "roll_to_working_day": False,
        "holiday_country": "CA",
        "holiday_subdivision": "",
        "internal_margin_days": 3,
        "territory_countries": ["CA"],
        "time_zone": "America/Vancouver",
        "supervisory_authority": "the Office of the Privacy Commissioner of Canada",
        "supervisory_authority_url": "https://www.priv.gc.ca/en/report-a-concern/",
        "courts_remedy": True,  # PIPEDA s.14: the Federal Court, after a complaint to the Commissioner
        "notes": "Silence by the deadline is a deemed refusal. Extension notice states the reason and the "
        "right to complain. Time zone: Pacific, the westernmost.",
        "rights": [(right, {}) for right in ["access", "rectification", "withdraw_consent"]],
    },
    {
        "code": "quebec",
        "name": "Quebec Law 25",
        "jurisdiction": "Quebec, Canada",
        "source": "P-39.1 s.27, s.28, s.28.1, s.32",
        "response_period": 30,
        "response_unit": "calendar_days",
        "extension_period": None,
        "roll_to_working_day": False,
        "holiday_country": "CA",
        "holiday_subdivision": "QC",
        "internal_margin_days": 3,
        "territory_countries": ["CA"],
        "territory_region": "QC",
        "time_zone": "America/Toronto",
        "supervisory_authority": "the Commission d'accès à l'information du Québec",
        "supervisory_authority_url": "https://www.cai.gouv.qc.ca/",
        "complaint_within_days": 30,  # s.43: an application for the examination of a disagreement
        "courts_remedy": True,
        # s.34: a refusal names the provision relied on. Grounds without one here cite it in the line's reason.
        "refusal_provisions": {
            "identity_not_verified": "section 30 of the Act respecting the protection of personal information "
            "in the private sector",
            "legal_obligation": "section 28 of the Act respecting the protection of personal information in the "
            "private sector",
        },
        "notes": "Answer in writing. Silence is a deemed refusal. A refusal names the provision relied on "
        "and the right to apply to the Commission within 30 days. Deletion (s.28) is an erasure line; "
        "de-indexing or ceasing dissemination (s.28.1) is an objection line.",
        "rights": [
            ("access", {}),
            ("rectification", {}),
            ("erasure", {"notes": "s.28: deletion of information that is obsolete or not authorised by law."}),
            ("objection", {"notes": "s.28.1: de-indexing or ceasing dissemination."}),
            ("portability", {}),
            ("withdraw_consent", {}),
        ],
    },
    {
        "code": "fadp",
        "name": "Swiss FADP",
        "jurisdiction": "Switzerland",
        "source": "FADP Art. 25(7); DPO Art. 18",
        "response_period": 30,
        "response_unit": "calendar_days",
        "extension_period": None,
        "extension_to_chosen_date": True,
        "roll_to_working_day": False,
        "holiday_country": "CH",
        "holiday_subdivision": "",
        "internal_margin_days": 3,
        "territory_countries": ["CH"],
        "time_zone": "Europe/Zurich",
        "supervisory_authority": "the Federal Data Protection and Information Commissioner (FDPIC)",
        "supervisory_authority_url": "https://www.edoeb.admin.ch/",
        "courts_remedy": True,  # FADP Art. 32: civil action
        "notes": "30 days 'in general'; if it takes longer, tell the requester within the 30 days and say by "
        "when: the officer sets the new date.",
        "rights": [(right, {}) for right in ["access", "rectification", "erasure", "objection", "portability"]],
    },
]

PROCESSING_ACTIVITIES = [
    {
        "name": "Account management and authentication",
        "purpose": "authentication",
        "legal_basis": "contract",
        "data_categories": ["account-identity"],
        "subject_types": ["account-user", "administrator"],
        "retention_reference": "Life of the account; 30 days after closure pseudonymised (email kept as a keyed "
        "hash: still personal data, Recital 26), as invoices kept for tax refer to it; deleted 7 years after the "
        "financial year of closure.",
    },
    {
        "name": "Routing API requests to AI models",
        "purpose": "request-routing",
        "legal_basis": "contract",
        "data_categories": ["content", "api-usage"],
        "subject_types": ["api-user"],
        "retention_reference": "Prompts and outputs 30 days; request metadata anonymised after 90 days.",
    },
    {
        "name": "Usage metering",
        "purpose": "usage-metering",
        "legal_basis": "contract",
        "data_categories": ["api-usage"],
        "subject_types": ["api-user", "account-user"],
        "retention_reference": "Request metadata anonymised after 90 days, deleted after 13 months.",
    },
    {
        "name": "Billing, wallet and invoicing",
        "purpose": "billing",
        "legal_basis": "legal-obligation",
        "data_categories": ["billing-transactions", "account-identity"],
        "subject_types": ["account-user", "administrator"],
        "retention_reference": "Invoices and transactions 6 years after the financial year (UK VAT).",
    },
    {
        "name": "Fraud prevention",
        "purpose": "fraud-prevention",
        "legal_basis": "legitimate-interests",
        "data_categories": ["billing-transactions", "api-usage", "account-identity"],
        "subject_types": ["account-user", "api-user"],
        "retention_reference": "Request metadata 13 months.",
    },
    {
        "name": "Abuse detection and enforcement of terms",
        "purpose": "abuse-detection",
        "legal_basis": "legitimate-interests",
        "data_categories": ["api-usage", "content"],
        "subject_types": ["api-user"],
        "retention_reference": "Prompts 30 days; metadata 13 months.",
    },
    {
        "name": "Customer support",
        "purpose": "support",
        "legal_basis": "contract",
        "data_categories": ["support", "account-identity"],
        "subject_types": ["account-user", "administrator", "website-visitor"],
        "retention_reference": "12 months after the ticket is closed.",
    },
    {
        "name": "Reliability and troubleshooting",
        "purpose": "reliability",
        "legal_basis": "legitimate-interests",
        "data_categories": ["api-usage"],
        "subject_types": ["api-user", "website-visitor"],
        "retention_reference": "Visitor events 90 days; request metadata 90 days before anonymisation.",
    },
    {
        "name": "Legal compliance and rights requests",
        "purpose": "legal-compliance",
        "legal_basis": "legal-obligation",
        "data_categories": ["account-identity", "billing-transactions"],
        "subject_types": ["account-user", "administrator", "api-user", "website-visitor"],
        "retention_reference": "Records of rights requests 24 months after closure (CCPA §7101).",
    },
]
