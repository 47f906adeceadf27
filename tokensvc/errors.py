"""OAuth 2.0 error codes and the JSON responses of the token, revocation and introspection endpoints."""

from enum import StrEnum

import orjson
from django.http import HttpResponse

REALM = "tokensvc"


class OAuthErrorCode(StrEnum):
    """Error codes of RFC 6749 §5.2 (and RFC 7009, RFC 7662) this service answers."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    INVALID_GRANT = "invalid_grant"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    UNSUPPORTED_TOKEN_TYPE = "unsupported_token_type"  # noqa: S105  (an error code, not a secret)
    INVALID_SCOPE = "invalid_scope"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class OAuthError(Exception):
    """An error to answer in the RFC 6749 §5.2 shape."""

    def __init__(self, code: OAuthErrorCode, description: str, *, status: int = 400, reason: str = ""):
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status
        # For the audit trail only: may say more than the caller is told.
        self.reason = reason or description


# RFC 6749 §5.1: responses that carry tokens (and, here, every response of these endpoints)
# must not be cached.
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}

INVALID_CLIENT_DESCRIPTION = "Client authentication failed."


def json_response(payload: dict, *, status: int = 200) -> HttpResponse:
    """A JSON response with the no-store headers; 401s challenge with Basic (RFC 6749 §5.2)."""
    response = HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")
    for name, value in NO_STORE_HEADERS.items():
        response[name] = value
    if status == 401:
        # The scheme clients authenticate with at these endpoints; oauthlib would say Bearer.
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


def error_response(error: OAuthError) -> HttpResponse:
    return json_response({"error": error.code, "error_description": error.description}, status=error.status)
