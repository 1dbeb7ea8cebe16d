"""Factories for the subprocessor register's tests."""

from datetime import date, timedelta

import factory
from django.utils import timezone

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
