"""Factories for the core models: one way to make a rights request, a line, a plan, a retention rule,
a subprocessor and its register rows in a test.

Records with a ledger, deadlines or a beat schedule (rights requests, retention rules) are made through
their services, as a person or the API makes them, so a test never holds a record the product could not
have; register rows without such bookkeeping are plain model rows. The rights-request and rule factories
need the policy baseline (the ``baseline`` fixture): regimes, rights, categories and legal bases.
"""

from datetime import date, timedelta

import factory
from django.utils import timezone

from compliance.models import DataCategory, LegalBasis
from fulfilment.models import FulfilmentPlan, PlanKind
from requests_app.models import IdentityMethod, IdentityOutcome, RequestLine, RightsRequest
from requests_app.services import rights_request_identity_record, rights_request_open
from retention.models import RetentionRule
from retention.services import retention_rule_create
from subprocessors.models import (
    CustomerContract,
    DataProcessingAgreement,
    NoticeSubscriber,
    ProcessingLocation,
    SecurityAttestation,
    Subprocessor,
)


class SubprocessorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subprocessor
        skip_postgeneration_save = True

    legal_name = factory.Sequence(lambda n: f"Vendor {n} Ltd")
    trading_name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    website = factory.LazyAttribute(lambda o: f"https://{o.slug}.example.com")
    service_description = "Hosting of the platform."
    category = Subprocessor.Category.CLOUD
    risk_rating = Subprocessor.RiskRating.HIGH
    privacy_contact_email = factory.LazyAttribute(lambda o: f"privacy@{o.slug}.example.com")
    notes = "INTERNAL-NOTE-SENTINEL"

    @factory.post_generation
    def data_categories(self, create, extracted, **kwargs):
        if create and extracted:
            self.data_categories.set(extracted)

    @factory.post_generation
    def purposes(self, create, extracted, **kwargs):
        if create and extracted:
            self.purposes.set(extracted)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcessingLocation

    subprocessor = factory.SubFactory(SubprocessorFactory)
    country = "IE"
    mechanism = ProcessingLocation.Mechanism.NONE_REQUIRED


class DPAFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataProcessingAgreement

    subprocessor = factory.SubFactory(SubprocessorFactory)
    version = factory.Sequence(lambda n: f"v{n}")
    # Signed long before any date the tests travel to.
    signed_on = date(2024, 1, 15)
    review_on = date(2031, 1, 15)


class AttestationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityAttestation

    subprocessor = factory.SubFactory(SubprocessorFactory)
    kind = SecurityAttestation.Kind.SOC2_TYPE2
    issued_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=100))
    expires_on = factory.LazyAttribute(lambda o: o.issued_on + timedelta(days=365))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerContract

    name = factory.Sequence(lambda n: f"Customer {n} GmbH")
    reference = factory.Sequence(lambda n: f"DPA-{n}")


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NoticeSubscriber

    email = factory.Sequence(lambda n: f"subscriber{n}@customer.example")
    confirmed_at = factory.LazyFunction(timezone.now)


# ------------------------------------------------------------------------------
# Rights requests, lines and plans
# ------------------------------------------------------------------------------


class RightsRequestFactory(factory.django.DjangoModelFactory):
    """A request logged through ``rights_request_open`` (its lines, ``received`` event and deadlines).

    ``RightsRequestFactory(rights=["erasure"], actor=agent)``; ``verified_by=officer`` also records a
    verified identity (account login), as an officer does before fulfilment.
    """

    class Meta:
        model = RightsRequest

    requester_name = factory.Sequence(lambda n: f"Requester {n}")
    requester_email = factory.Sequence(lambda n: f"requester{n}@example.com")
    regime = "uk_gdpr"
    rights = ("access",)
    channel = "email"
    actor = None  # the system (the API's path); pass a member of staff to log it as them
    verified_by = None

    @classmethod
    def _create(cls, model_class, *args, verified_by=None, **kwargs):
        kwargs["rights"] = list(kwargs["rights"])
        request = rights_request_open(**kwargs)
        if verified_by is not None:
            rights_request_identity_record(
                request=request,
                method=IdentityMethod.ACCOUNT_LOGIN,
                outcome=IdentityOutcome.VERIFIED,
                actor=verified_by,
            )
        request.refresh_from_db()
        return request


class RequestLineFactory(factory.django.DjangoModelFactory):
    """The line of one right, on a request of its own: ``RequestLineFactory(right="erasure")``."""

    class Meta:
        model = RequestLine

    right = "access"

    @classmethod
    def _create(cls, model_class, *args, right="access", **request_fields):
        request = RightsRequestFactory(rights=[right], **request_fields)
        return request.lines.get(right__slug=right)


class FulfilmentPlanFactory(factory.django.DjangoModelFactory):
    """A plan for a line (erasure by default), as locating leaves it: awaiting approval, no tables.

    For a plan with located tables and steps, run ``fulfilment_start`` on a platform subject instead.
    """

    class Meta:
        model = FulfilmentPlan

    kind = PlanKind.ERASURE
    line = factory.SubFactory(RequestLineFactory, right=factory.SelfAttribute("..kind"))
    request = factory.SelfAttribute("line.request")
    status = FulfilmentPlan.Status.AWAITING_APPROVAL


# ------------------------------------------------------------------------------
# Retention rules
# ------------------------------------------------------------------------------


class RetentionRuleFactory(factory.django.DjangoModelFactory):
    """A rule made through ``retention_rule_create`` (with its beat schedule) on a mapped table.

    ``RetentionRuleFactory(table=..., trigger_column=..., actor=officer)``: 90 days, delete, analytics
    data kept under legitimate interests, unless told otherwise.
    """

    class Meta:
        model = RetentionRule

    actor = None
    name = factory.Sequence(lambda n: f"Rule {n}")
    data_category = factory.LazyFunction(lambda: DataCategory.objects.get(slug="api-usage"))
    period = 90
    period_unit = "days"
    action = "delete"
    justification = "Security and abuse controls need recent request metadata only."
    legal_basis = factory.LazyFunction(lambda: LegalBasis.objects.get(slug="legitimate-interests"))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return retention_rule_create(**kwargs)
