"""``Authorization: Bearer <token>`` for integrations; tokens are stored hashed."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from requests_app.services import api_client_authenticate

HEADER_HINT = "Send the token in the header 'Authorization: Bearer <token>'."
# Said when the header is missing (requests_app.api.exceptions) or uses another scheme. Never echoes what was
# sent: a token sent with the wrong scheme is still a credential.
MISSING_TOKEN = f"No API token was sent. {HEADER_HINT}"
OTHER_SCHEME = f"This API takes a bearer token, not another scheme (such as 'Token <key>' or Basic). {HEADER_HINT}"


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None  # DRF answers 401 with MISSING_TOKEN (the API's exception handler)
        if parts[0].lower() != self.keyword:
            raise AuthenticationFailed(OTHER_SCHEME)
        if len(parts) != 2:
            raise AuthenticationFailed(HEADER_HINT)
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        client = api_client_authenticate(token=token)
        if client is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        return client, None

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the token is missing or wrong.
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "requests_app.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "One token per integration, created in the admin or with `manage.py create_api_token NAME`.",
        }
