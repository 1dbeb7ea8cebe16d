"""The API's exception handler: every error is JSON, never Django's HTML pages."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated
from rest_framework.views import exception_handler

from requests_app.api.authentication import MISSING_TOKEN


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The request body is larger than the {limit:,} bytes allowed.")


def api_exception_handler(exc, context):
    """DRF's handler, plus Django's refusal of a body over DATA_UPLOAD_MAX_MEMORY_SIZE (a 413, not an HTML 400),
    and a 401 without a token that says which header to send (DRF's says "credentials were not provided")."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, NotAuthenticated) and exc.detail == NotAuthenticated.default_detail:
        exc.detail = NotAuthenticated(MISSING_TOKEN).detail  # the same exception: its WWW-Authenticate stays
    return exception_handler(exc, context)
