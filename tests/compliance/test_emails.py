"""One way to render an email (compliance.emails): one set of shared keys, every template reading them."""

from pathlib import Path
from types import SimpleNamespace

from django.conf import settings

from compliance.emails import email_context, email_message, email_render

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_every_email_template_reads_the_contact_address_under_one_name():
    email_templates = [
        path
        for folder in ("requests_app/emails", "requests_app/letters", "fulfilment/emails", "subprocessors/email")
        for path in (TEMPLATES / folder).glob("*.txt")
    ]
    assert len(email_templates) > 20
    readers = [path for path in email_templates if "{{ contact_email }}" in path.read_text()]
    assert readers, "no template shows the contact address"
    assert not [path.name for path in email_templates if "privacy_contact_email" in path.read_text()]


def test_the_shared_keys_come_from_the_settings_and_the_callers_context_wins(settings):
    settings.PRIVACY_CONTACT_EMAIL = "privacy@example.com"
    assert email_context()["contact_email"] == "privacy@example.com"
    assert set(email_context()) == {"site_name", "site_url", "controller", "privacy_team", "contact_email"}


def test_a_subscription_confirmation_signs_with_the_contact_address(settings):
    settings.PRIVACY_CONTACT_EMAIL = "privacy@example.com"
    message = email_message(
        "subprocessors/email/confirm_subscription",
        {"confirm_url": "https://example.com/c", "max_age_days": 7, "max_age_hours": 168, "list_url": "/l"},
        to=["reader@example.com"],
    )
    assert message.to == ["reader@example.com"] and message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.body.rstrip().endswith("privacy@example.com")
    assert "\n" not in message.subject and message.subject


def test_a_retention_failure_alert_reads_as_before_with_quotes_unescaped(settings):
    rule = SimpleNamespace(name="Visitor's events", approval_threshold=100)
    run = SimpleNamespace(pk=7, rule=rule, error="Table <visitor_events> is locked", rows_affected=40)
    subject, body = email_render("retention/emails/run_failed", {"run": run, "run_url": "https://bo/run/7"})
    assert subject == "Retention run #7 failed: Visitor's events"
    assert body == (
        "The retention run #7 of the rule 'Visitor's events' failed.\n\n"
        "Table <visitor_events> is locked\n\n"
        "Rows affected before it stopped: 40.\n"
        "Open the run: https://bo/run/7\n"
    )


def test_an_appeal_letter_signs_with_the_privacy_team_not_an_empty_site_name(settings):
    signature = (TEMPLATES / "requests_app/letters/_signature.txt").read_text()
    assert "{{ privacy_team }}" in signature
    for name in ("appeal_received", "appeal_decision", "appeal_extension_notice"):
        text = (TEMPLATES / f"requests_app/letters/{name}.txt").read_text()
        assert '{% include "requests_app/letters/_signature.txt" %}' in text
        assert "{{ site_name }} privacy team" not in text


def test_a_retention_approval_request_reads_as_before():
    rule = SimpleNamespace(name="Old tickets", approval_threshold=100)
    run = SimpleNamespace(pk=8, rule=rule, rows_to_affect=250)
    subject, body = email_render("retention/emails/run_awaiting_approval", {"run": run, "run_url": "https://bo/run/8"})
    assert subject == "Retention run #8 awaits approval: Old tickets"
    assert body == (
        "The retention run #8 of the rule 'Old tickets' would affect 250 rows, "
        "more than the rule's approval threshold of 100.\n\n"
        "A compliance officer approves or cancels it here: https://bo/run/8\n"
    )
