"""What erasure keeps is kept row by row, restricted, and said to be kept until a date (Art. 17(3)(b), 18).

The sample platform's invoices have a legal-obligation rule: 6 years after the end of the financial year
(which ends on 31 March here). On 30 November 2026 the rule's cutoff is 1 April 2020: invoices issued before
it are past the period and erased with the rest; the others are kept, and the account they belong to is
flagged ``processing_restricted``.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine

from compliance.models import ManualTask
from fulfilment.models import FulfilmentPlan, FulfilmentStep
from fulfilment.selectors import kept_items, letter_context
from fulfilment.services import fulfilment_start, plan_approve
from requests_app.services.communications import communication_render
from retention.scheduling import rule_cutoff, rule_keep_until
from retention.services import legal_hold_place
from tests.support.platform import platform_execute, platform_values

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
PAST_PERIOD = datetime(2020, 3, 31, 12, 0, tzinfo=UTC)  # financial year 2019-20: kept until 31 March 2026
INSIDE_PERIOD = datetime(2020, 4, 2, 12, 0, tzinfo=UTC)  # financial year 2020-21: kept until 31 March 2027
NEWEST = datetime(2021, 6, 15, 12, 0, tzinfo=UTC)  # financial year 2021-22: kept until 31 March 2028


def _invoices(account_ref: str) -> list[int]:
    return [
        row[0] for row in platform_values("SELECT id FROM invoices WHERE account_id = %s ORDER BY id", [account_ref])
    ]


def _date_invoices(account_ref: str) -> tuple[int, int, list[int]]:
    """The subject's first invoice past the period, the second just inside it, the rest newer."""
    ids = _invoices(account_ref)
    assert len(ids) >= 3, "the seeded subject needs a few invoices"
    platform_execute("UPDATE invoices SET issued_at = %s WHERE account_id = %s", [NEWEST, int(account_ref)])
    platform_execute("UPDATE invoices SET issued_at = %s WHERE id = %s", [PAST_PERIOD, ids[0]])
    platform_execute("UPDATE invoices SET issued_at = %s WHERE id = %s", [INSIDE_PERIOD, ids[1]])
    return ids[0], ids[1], ids[2:]


def _erase(request, officer, capture):
    with capture(execute=True):
        fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    with capture(execute=True):
        plan_approve(plan=plan, actor=officer)
    plan.refresh_from_db()
    return plan


def _letter(request) -> str:
    """The answer letter's body, as the requester reads it."""
    _subject, body = communication_render(
        request=request, template="partial_or_refusal", context=letter_context(request)
    )
    return body


def _billing(invoice_id: int) -> tuple[str, str]:
    return platform_values("SELECT billing_name, billing_address FROM invoices WHERE id = %s", [invoice_id])[0]


def test_the_keep_date_is_the_sweeps_cutoff_read_the_other_way():
    rule = {"period": 6, "unit": "years", "anchor": "financial_year_end"}
    until = rule_keep_until(trigger=date(2020, 4, 2), **rule)
    assert until == date(2027, 3, 31)
    last_day = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)
    next_day = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
    assert rule_cutoff(now=last_day, **rule).date() <= date(2020, 4, 2)  # still kept on its last day
    assert rule_cutoff(now=next_day, **rule).date() > date(2020, 4, 2)  # swept the day after


def test_erasure_keeps_only_the_invoices_inside_their_period_and_restricts_the_account(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    account = platform.subject.account_ref
    old, inside, newer = _date_invoices(account)
    originals = {invoice_id: _billing(invoice_id) for invoice_id in [inside, *newer]}
    other_before = platform_values(
        "SELECT processing_restricted FROM accounts WHERE id = %s", [platform.other.account_ref]
    )
    with time_machine.travel(NOW, tick=False):
        request = open_request(platform.subject, ["erasure"])
        plan = _erase(request, officer, django_capture_on_commit_callbacks)

    entry = next(e for e in plan.tables if e["table"] == "invoices")
    assert entry["action"] == "mask" and entry["keep_rows"][0]["cutoff"].startswith("2020-04-01")
    assert entry["restriction"] == {
        "how": "flag",
        "table_id": entry["restriction"]["table_id"],
        "table": "accounts",
        "column": "processing_restricted",
    }

    # The invoice past its period is erased like the rest; the ones inside it are kept as they were.
    assert _billing(old) == ("Erased customer", "[redacted]")
    assert {invoice_id: _billing(invoice_id) for invoice_id in [inside, *newer]} == originals
    assert all(name != "Erased customer" for name, _address in originals.values())
    # The kept rows' account is restricted (Art. 18); nobody else's is.
    assert platform_values("SELECT processing_restricted FROM accounts WHERE id = %s", [account]) == [(True,)]
    assert (
        platform_values("SELECT processing_restricted FROM accounts WHERE id = %s", [platform.other.account_ref])
        == other_before
    )

    step = FulfilmentStep.objects.get(request=request, kind="erase", table__table_name="invoices")
    assert (step.rows_masked, step.rows_kept) == (1, 1 + len(newer))
    assert step.evidence["kept"]["until"] == "2028-03-31" and step.evidence["kept"]["restricted"] is True

    # The outcome says in plain words what was kept and why (no tables, no row counts: the letters read it);
    # the letter's kept items add that it is restricted, and until which date.
    line = request.lines.get()
    assert line.outcome == "partially_fulfilled" and line.refusal_ground == "legal_obligation"
    assert "We kept your billing and transaction data because invoices are VAT records" in line.outcome_reason
    assert "invoices (" not in line.outcome_reason and "rows" not in line.outcome_reason
    item = next(i for i in kept_items(request) if "billing" in i["what"])
    assert item["restricted"] is True and item["restricted_how"] == "flag"
    assert item["until_date"] == date(2028, 3, 31) and item["until_text"] == "until 31 March 2028"
    body = _letter(request)
    assert "We keep it restricted until 31 March 2028: we use it for nothing else in the meantime." in body


def test_a_table_without_a_restriction_flag_gets_a_manual_task_and_a_hold_sets_the_date(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    email = platform.subject.email
    platform_execute(
        "INSERT INTO support_tickets (requester_email, subject, status, created_at) VALUES (%s, 'Refund', 'open', %s)",
        [email, NOW],
    )
    with time_machine.travel(NOW, tick=False):
        legal_hold_place(
            actor=officer,
            name="Dispute 2026-3",
            reason="dispute",
            subject_email=email,
            ends_at=datetime(2027, 6, 30, 12, 0, tzinfo=UTC),
        )
        request = open_request(platform.subject, ["erasure"])
        plan = _erase(request, officer, django_capture_on_commit_callbacks)

    tickets = next(e for e in plan.tables if e["table"] == "support_tickets")
    assert tickets["action"] == "keep" and tickets["restriction"]["how"] == "manual"
    assert "names no restriction flag" in tickets["restriction"]["note"]
    # Nothing of the subject's tickets changed; a person is asked to restrict them.
    assert platform_values("SELECT count(*) FROM support_tickets WHERE requester_email = %s", [email])[0][0] >= 1
    step = FulfilmentStep.objects.get(request=request, kind="erase", table__table_name="support_tickets")
    task = ManualTask.objects.get(pk=step.evidence["kept"]["task_id"])
    assert task.operation == ManualTask.Operation.RESTRICT and task.status == ManualTask.Status.OPEN
    assert "support_tickets" in task.instructions and email not in task.title
    # Every table is kept whole under the hold; the invoices' date is later than the hold's end.
    assert not platform_values(
        "SELECT 1 FROM invoices WHERE account_id = %s AND billing_name = 'Erased customer'",
        [platform.subject.account_ref],
    )
    assert step.evidence["kept"]["until"] == "2027-06-30"
    line = request.lines.get()
    assert "support_tickets" not in line.outcome_reason and "We kept your " in line.outcome_reason
    item = next(i for i in kept_items(request) if i.get("restricted_how") == "manual")
    assert item["restricted"] is False and item["until_date"] == date(2027, 6, 30)
    assert "We are restricting it, so that we use it for nothing else in the meantime." in _letter(request)
    assert platform_values(
        "SELECT processing_restricted FROM accounts WHERE id = %s", [platform.subject.account_ref]
    ) == [(True,)]


def test_an_organisations_billing_email_that_is_the_persons_own_address_is_erased(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    """``organisations.billing_email`` is searched by the person's email: their own address goes, a shared
    mailbox of another organisation stays."""
    email = platform.subject.email
    own = platform_values("SELECT id FROM organisations ORDER BY id LIMIT 1")[0][0]
    platform_execute("UPDATE organisations SET billing_email = %s WHERE id = %s", [email.upper(), own])
    shared = platform_values(
        "INSERT INTO organisations (name, billing_email, created_at) VALUES ('Other Ltd', %s, %s) RETURNING id",
        ["accounts@shared.example", NOW],
    )[0][0]
    with time_machine.travel(NOW, tick=False):
        request = open_request(platform.subject, ["erasure"])
        plan = _erase(request, officer, django_capture_on_commit_callbacks)
    entry = next(e for e in plan.tables if e["table"] == "organisations")
    assert entry["action"] == "mask" and entry["rows"] == 1
    assert platform_values("SELECT billing_email FROM organisations WHERE id = %s", [own]) == [("[redacted]",)]
    assert platform_values("SELECT billing_email FROM organisations WHERE id = %s", [shared]) == [
        ("accounts@shared.example",)
    ]
