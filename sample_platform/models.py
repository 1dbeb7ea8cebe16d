"""The sample Studio product database: the tables the privacy policy's data lives in.

A stand-in for Studio's real platform so the demo, the tests and the benchmarks
act on realistic data. It lives on its own database alias (``platform``, see
``routers.py``) and nothing in the back office imports it: the back office
reaches it only through the SQL connector, driven by ``datamap.yaml``.

Table names are plain (``accounts``, ``api_requests``...) as in a product
database. Foreign keys are real database constraints, so erasure has to delete
child rows before their parents, as it would on Studio's database.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower, Now


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    billing_email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, help_text="When the organisation stopped being a customer.")

    class Meta:
        db_table = "organisations"

    def __str__(self) -> str:
        return f"organisation {self.pk}"


class Account(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Administrator"
        MEMBER = "member", "Member"

    email = models.CharField(max_length=254, unique=True)
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(Organisation, null=True, on_delete=models.PROTECT, related_name="accounts")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    auth_provider_id = models.CharField(max_length=200, null=True, help_text="Subject id at the identity provider.")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True)
    processing_restricted = models.BooleanField(
        default=False, help_text="Art. 18: processing restricted, data kept but not used."
    )

    class Meta:
        db_table = "accounts"
        indexes = [models.Index(Lower("email"), name="accounts_email_lower")]

    def __str__(self) -> str:
        return f"account {self.pk}"


class ApiKey(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, shown in the dashboard.")
    key_hash = models.CharField(max_length=128, help_text="SHA-256 of the key; the key itself is never stored.")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "api_keys"

    def __str__(self) -> str:
        return f"api key {self.pk}"


class WalletTransaction(models.Model):
    class Kind(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        USAGE = "usage", "Usage debit"
        REFUND = "refund", "Refund"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="wallet_transactions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=4, help_text="Positive credit, negative debit (USD).")
    balance_after = models.DecimalField(max_digits=12, decimal_places=4)
    processor_reference = models.CharField(max_length=100, null=True, help_text="Payment processor id of a top-up.")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "wallet_transactions"

    def __str__(self) -> str:
        return f"wallet transaction {self.pk}"


class Invoice(models.Model):
    class PaymentStatus(models.TextChoices):
        PAID = "paid", "Paid"
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=30, unique=True)
    billing_name = models.CharField(max_length=200)
    billing_address = models.TextField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    processor_reference = models.CharField(max_length=100, help_text="Charge id at the payment processor.")
    issued_at = models.DateTimeField()

    class Meta:
        db_table = "invoices"

    def __str__(self) -> str:
        return f"invoice {self.pk}"


class ApiRequest(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_requests")
    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    model_id = models.CharField(max_length=100)
    prompt_tokens = models.IntegerField()
    completion_tokens = models.IntegerField()
    cost = models.DecimalField(max_digits=12, decimal_places=6)
    ip_address = models.CharField(max_length=45, null=True)
    user_agent = models.CharField(max_length=300, null=True)
    status_code = models.SmallIntegerField()
    error = models.CharField(max_length=300, null=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "api_requests"
        indexes = [models.Index(fields=["created_at"], name="api_requests_created")]

    def __str__(self) -> str:
        return f"api request {self.pk}"


class Prompt(models.Model):
    """What a user sent to a model. Linked to the API request, not to the account."""

    api_request = models.ForeignKey(ApiRequest, on_delete=models.PROTECT, related_name="prompts")
    content = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "prompts"

    def __str__(self) -> str:
        return f"prompt {self.pk}"


class Output(models.Model):
    """What the model returned for a prompt."""

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="outputs")
    content = models.TextField()
    finish_reason = models.CharField(max_length=20)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "outputs"

    def __str__(self) -> str:
        return f"output {self.pk}"


class SupportTicket(models.Model):
    """A support conversation. People without an account write in too: the requester is an email."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Waiting for the customer"
        CLOSED = "closed", "Closed"

    requester_email = models.CharField(max_length=254)
    account = models.ForeignKey(Account, null=True, on_delete=models.PROTECT, related_name="support_tickets")
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True)
    last_activity_at = models.DateTimeField(
        db_default=Now(), help_text="The latest message or status change (closure included)."
    )

    class Meta:
        db_table = "support_tickets"
        indexes = [models.Index(Lower("requester_email"), name="support_tickets_email_lower")]

    def __str__(self) -> str:
        return f"support ticket {self.pk}"


class SupportMessage(models.Model):
    class Author(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        STAFF = "staff", "Studio staff"

    ticket = models.ForeignKey(SupportTicket, on_delete=models.PROTECT, related_name="messages")
    author = models.CharField(max_length=20, choices=Author.choices)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "support_messages"

    def __str__(self) -> str:
        return f"support message {self.pk}"


class VisitorEvent(models.Model):
    """A page view on the public website; linked to an account only when the visitor was signed in."""

    anonymous_id = models.CharField(max_length=36)
    account = models.ForeignKey(
        Account, null=True, on_delete=models.PROTECT, related_name="visitor_events", db_constraint=False
    )
    ip_address = models.CharField(max_length=45, null=True)
    user_agent = models.CharField(max_length=300, null=True)
    page = models.CharField(max_length=200)
    referrer = models.CharField(max_length=300, null=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "visitor_events"
        indexes = [models.Index(fields=["created_at"], name="visitor_events_created")]

    def __str__(self) -> str:
        return f"visitor event {self.pk}"
