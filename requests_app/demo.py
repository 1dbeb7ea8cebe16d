"""Demo rights requests: about 40, across regimes, rights and states, dated relative to today.

Requesters are sample-platform accounts (through the data map's connector) so
export and erasure act on real demo rows; without that system the step falls
back to clearly fictional requesters and says so. Every step goes through the
services, so ledgers, deadlines and letters are what real use would produce.
Running it again adds nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from compliance.connectors.base import Subject
from compliance.models import Regime, SystemOfRecord
from compliance.roles import COMPLIANCE_OFFICER, SUPPORT_AGENT
from requests_app.models import (
    IdentityMethod,
    IdentityOutcome,
    LetterTemplate,
    Outcome,
    RefusalGround,
    RightsRequest,
)
from requests_app.services import (
    api_client_create,
    appeal_open,
    communication_delivery_record,
    communication_send,
    request_event_add,
    request_line_complete,
    request_note_add,
    rights_request_close,
    rights_request_identity_record,
    rights_request_open,
)

DEMO_MARK = "[demo] "
DEMO_API_CLIENT = "Support desk (demo)"


@dataclass
class Scenario:
    regime: str
    rights: list[str]
    days_ago: int
    story: str
    channel: str = "email"
    outcomes: dict[str, str] = field(default_factory=dict)


# story: new | acknowledged | identity_wait | clarification | in_progress | extended | closed | closed_late
# | appealed (closed with a refusal, then appealed)
SCENARIOS = [
    # Open, on track
    Scenario("uk_gdpr", ["access"], 1, "new"),
    Scenario("eu_gdpr", ["erasure"], 2, "acknowledged", "support_ticket"),
    Scenario("ccpa", ["access", "erasure"], 3, "acknowledged", "web_form"),
    Scenario("ccpa", ["opt_out"], 2, "new", "web_form"),
    Scenario("lgpd", ["access"], 1, "acknowledged"),
    Scenario("pipeda", ["access", "rectification"], 6, "in_progress"),
    Scenario("fadp", ["access"], 4, "in_progress"),
    Scenario("vcdpa", ["erasure"], 10, "in_progress", "web_form"),
    Scenario("quebec", ["access"], 5, "acknowledged", "post"),
    Scenario("uk_gdpr", ["portability"], 8, "identity_wait"),
    Scenario("eu_gdpr", ["restriction", "objection"], 9, "identity_wait", "support_ticket"),
    Scenario("uk_gdpr", ["access"], 12, "clarification"),
    # Due soon and urgent
    Scenario("uk_gdpr", ["access", "erasure"], 22, "in_progress"),
    Scenario("eu_gdpr", ["rectification"], 24, "in_progress", "support_ticket"),
    Scenario("ctdpa", ["access"], 38, "in_progress", "web_form"),
    Scenario("uk_gdpr", ["objection"], 27, "in_progress"),
    Scenario("cpa", ["portability"], 42, "acknowledged", "web_form"),
    Scenario("ccpa", ["access", "opt_out"], 9, "acknowledged", "web_form"),
    # Extended
    Scenario("eu_gdpr", ["access", "portability"], 45, "extended"),
    Scenario("tdpsa", ["access"], 50, "extended", "web_form"),
    # Overdue
    Scenario("eu_gdpr", ["access"], 40, "in_progress"),
    Scenario("ccpa", ["erasure"], 52, "acknowledged", "web_form"),
    Scenario("pipeda", ["access"], 36, "in_progress"),
    # Closed, each outcome; spread over the last 12 weeks
    Scenario("uk_gdpr", ["access"], 80, "closed", outcomes={"access": Outcome.FULFILLED}),
    Scenario("eu_gdpr", ["erasure"], 70, "closed", outcomes={"erasure": Outcome.PARTIALLY_FULFILLED}),
    Scenario("uk_gdpr", ["access", "erasure"], 64, "closed", outcomes={"access": "fulfilled", "erasure": "partial"}),
    Scenario("ccpa", ["erasure"], 60, "closed", "web_form", outcomes={"erasure": Outcome.FULFILLED}),
    Scenario("ccpa", ["opt_out"], 56, "closed", "web_form", outcomes={"opt_out": Outcome.FULFILLED}),
    Scenario("eu_gdpr", ["access"], 50, "closed", outcomes={"access": Outcome.REFUSED}),
    Scenario("uk_gdpr", ["rectification"], 47, "closed", outcomes={"rectification": Outcome.FULFILLED}),
    Scenario("lgpd", ["erasure"], 44, "closed", outcomes={"erasure": Outcome.FULFILLED}),
    Scenario("fadp", ["access"], 40, "closed", outcomes={"access": Outcome.WITHDRAWN}),
    Scenario("vcdpa", ["access"], 75, "closed_late", "web_form", outcomes={"access": Outcome.FULFILLED}),
    Scenario("uk_gdpr", ["portability"], 35, "closed", outcomes={"portability": Outcome.FULFILLED}),
    Scenario("eu_gdpr", ["objection"], 30, "closed", "support_ticket", outcomes={"objection": Outcome.FULFILLED}),
    Scenario("pipeda", ["rectification"], 28, "closed", outcomes={"rectification": Outcome.FULFILLED}),
    Scenario("uk_gdpr", ["erasure"], 21, "closed", outcomes={"erasure": Outcome.PARTIALLY_FULFILLED}),
    Scenario("ccpa", ["access"], 17, "closed", "web_form", outcomes={"access": Outcome.REFUSED}),
    Scenario("eu_gdpr", ["withdraw_consent"], 12, "closed", outcomes={"withdraw_consent": Outcome.FULFILLED}),
    Scenario("uk_gdpr", ["access"], 70, "closed_late", outcomes={"access": Outcome.FULFILLED}),
    # A Virginia refusal the requester appealed (REGULATIONS §1b): the appeal is open, due in 60 days.
    Scenario("vcdpa", ["erasure"], 33, "appealed", "web_form", outcomes={"erasure": Outcome.REFUSED}),
]

KEPT = [
    {
        "what": "Invoices and wallet transactions",
        "why": "kept for 6 years under UK VAT rules (VAT Notice 700/21), restricted to the finance team",
    }
]


def _subjects(count: int, stdout) -> list[Subject]:
    system = SystemOfRecord.objects.filter(slug="studio-platform").first()
    if system is not None:
        try:
            from compliance.connectors import get_connector

            subjects = [s for s in get_connector(system).sample_subjects(count) if s.email]
        except Exception as exc:  # the demo must not fail on a connector that is still being built
            stdout.write(f"  rights requests: sample platform not reachable ({type(exc).__name__}).")
            subjects = []
        if subjects:
            stdout.write(f"  rights requests: tied to {len(subjects)} sample-platform accounts.")
            return subjects
    stdout.write(
        "  rights requests: no sample-platform accounts available; using fictional requesters "
        "(requesterNN@example.invalid)."
    )
    return [Subject(account_ref=f"demo-acct-{n:04d}", email=f"requester{n:02d}@example.invalid") for n in range(count)]


def _demo_user(username: str, group: str):
    """The demo login of that role, else any active member of the role."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True, groups__name=group)
    return users.filter(username=username).first() or users.order_by("pk").first()


def _name_from(email: str) -> str:
    local = email.split("@", 1)[0]
    words = [w for w in local.replace("_", ".").replace("-", ".").split(".") if w and not w.isdigit()]
    return " ".join(w.capitalize() for w in words) or local


def load_demo_requests(*, stdout) -> None:
    if RightsRequest.objects.filter(description__startswith=DEMO_MARK).exists():
        stdout.write("  rights requests: demo requests already loaded.")
        return
    officer = _demo_user("officer", COMPLIANCE_OFFICER)
    agent = _demo_user("agent", SUPPORT_AGENT) or officer
    if officer is None:
        stdout.write("  rights requests: no compliance officer to act as; run the demo command (it creates one).")
        return
    subjects = _subjects(len(SCENARIOS) - 2, stdout)
    now = timezone.now()
    created = []
    with transaction.atomic():
        for index, scenario in enumerate(SCENARIOS):
            # Two requesters ask twice, so intake flags possible duplicates.
            subject = subjects[index % len(subjects)] if index < len(subjects) else subjects[index - len(subjects)]
            created.append(_build(scenario, subject, index, officer, agent, now))
        if not any(r.possible_duplicate_of_id for r in created):
            first = created[0]
            duplicate = rights_request_open(
                requester_name=first.requester_name,
                requester_email=first.requester_email,
                account_ref=first.account_ref,
                regime=first.regime,
                rights=[line.right for line in first.lines.all()],
                channel="support_ticket",
                received_at=now - dt.timedelta(hours=3),
                description=DEMO_MARK + "Asked again in a support ticket while the first request is open.",
                actor=agent,
            )
            created.append(duplicate)
        client = _demo_api_client(officer)
        if client is not None:
            subject = subjects[0]
            created.append(
                rights_request_open(
                    requester_name=_name_from(subject.email),
                    requester_email=subject.email,
                    account_ref=subject.account_ref or "",
                    regime="ccpa",
                    rights=["limit_sensitive"],
                    channel="api",
                    received_at=now - dt.timedelta(days=1),
                    description=DEMO_MARK + "Posted by the support desk integration.",
                    actor=None,
                    api_client=client,
                )
            )
    stdout.write(f"  rights requests: {len(created)} demo requests loaded.")


def _demo_api_client(officer):
    from requests_app.models import ApiClient

    existing = ApiClient.objects.filter(name=DEMO_API_CLIENT).first()
    if existing is not None:
        return existing
    client, _token = api_client_create(name=DEMO_API_CLIENT, actor=officer)  # the token is not needed
    return client


def _letter(*, at: dt.datetime, **kwargs) -> None:
    """A letter of the demo's past: sent and delivered at ``at`` (history, not an email to send now)."""
    letter = communication_send(at=at, **kwargs)
    communication_delivery_record(communication_id=letter.pk, at=at)


def _build(scenario: Scenario, subject: Subject, index: int, officer, agent, now: dt.datetime) -> RightsRequest:
    received = now - dt.timedelta(days=scenario.days_ago, hours=index % 7)
    regime = Regime.objects.get(code=scenario.regime)

    def at(days: float) -> dt.datetime:
        return min(received + dt.timedelta(days=days), now - dt.timedelta(minutes=5))

    request = rights_request_open(
        requester_name=_name_from(subject.email or ""),
        requester_email=subject.email or f"requester{index:02d}@example.invalid",
        account_ref=subject.account_ref or "",
        regime=regime,
        rights=scenario.rights,
        channel=scenario.channel,
        received_at=received,
        description=DEMO_MARK + f"{', '.join(scenario.rights)} request received by {scenario.channel}.",
        assignee=officer if index % 3 else agent,
        actor=agent,
    )
    story = scenario.story
    if story == "new":
        return request
    _letter(request=request, template=LetterTemplate.ACKNOWLEDGEMENT, actor=agent, at=at(0.2))
    if story == "acknowledged":
        return request
    if story == "identity_wait":
        _letter(
            request=request,
            template=LetterTemplate.IDENTITY_REQUEST,
            actor=agent,
            at=at(0.5),
            context={"identity_information": "Please reply from the email address on your account."},
        )
        return request
    if story == "clarification":
        request_event_add(request=request, type="identity_received", at=at(1), actor=agent)
        _letter(
            request=request,
            template=LetterTemplate.CLARIFICATION_REQUEST,
            actor=agent,
            at=at(2),
            reason="Which workspace and which period do you want a copy of? You have three organisations.",
        )
        return request
    if request.identity_outcome != IdentityOutcome.NOT_REQUIRED:
        rights_request_identity_record(
            request=request,
            method=IdentityMethod.EMAIL_MATCH if index % 2 else IdentityMethod.ACCOUNT_LOGIN,
            outcome=IdentityOutcome.VERIFIED,
            actor=officer,
            at=at(0.5),
        )
    request_note_add(request=request, body="Checked the data map for the systems holding this account.", actor=agent)
    if story == "in_progress":
        return request
    if story == "extended":
        _letter(
            request=request,
            template=LetterTemplate.EXTENSION_NOTICE,
            actor=officer,
            at=at(20),
            reason="Your account spans three organisations and several years of API logs; gathering them "
            "completely needs more time.",
        )
        return request
    # closed and closed_late
    finish = 50 if story == "closed_late" else min(scenario.days_ago - 1, 12 + index % 10)
    if story == "appealed":
        finish = 10
    kept = []
    for line in request.lines.select_related("right"):
        outcome = scenario.outcomes.get(line.right.slug, Outcome.FULFILLED)
        if outcome == "partial":
            outcome = Outcome.PARTIALLY_FULFILLED
        if outcome == "fulfilled":
            outcome = Outcome.FULFILLED
        reason, ground, evidence = "", "", ""
        if outcome == Outcome.PARTIALLY_FULFILLED:
            reason = "Account, usage logs and prompts erased; invoices kept for 6 years (UK VAT), restricted."
            ground = RefusalGround.LEGAL_OBLIGATION
            kept = KEPT
        elif outcome == Outcome.REFUSED:
            reason = "Fifth identical request in two weeks after a full copy was sent; refused as excessive."
            ground = RefusalGround.EXCESSIVE
            evidence = "Copies sent on the four earlier requests (see the linked references); no new data since."
        elif outcome == Outcome.WITHDRAWN:
            reason = "The requester withdrew the request by email."
        request_line_complete(
            line=line,
            outcome=outcome,
            reason=reason,
            refusal_ground=ground,
            evidence_note=evidence,
            actor=officer,
            at=at(finish - 1),
        )
    lines = list(request.lines.all())
    template = (
        LetterTemplate.COMPLETION
        if all(line.outcome == Outcome.FULFILLED for line in lines)
        else LetterTemplate.PARTIAL_OR_REFUSAL
    )
    _letter(request=request, template=template, actor=officer, at=at(finish), context={"kept": kept})
    rights_request_close(request=request, actor=officer, at=at(finish))
    if story == "appealed":
        appeal_open(
            request=request,
            channel="email",
            received_at=at(finish + 8),
            statement=DEMO_MARK + "I closed my account months ago; please delete everything.",
            actor=agent,
        )
    return request
