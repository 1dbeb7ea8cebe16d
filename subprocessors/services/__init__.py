"""Every write of the subprocessor register.

- ``register``: subprocessors, their locations, DPAs and attestations.
- ``changes``: change notices (announce, activate, withdraw) and customer objections.
- ``subscribers``: double opt-in subscriptions and their signed links.
- ``notices``: emailing announced changes to subscribers, once each.
- ``reminders``: DPA review and attestation expiry reminders, the weekly digest.

Refusals are ``django.core.exceptions.ValidationError`` with a message staff can act on.
"""
