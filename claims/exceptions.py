"""The API's errors: codes (RFC 6750 and ours) and the named exceptions views raise."""

from enum import StrEnum

from rest_framework import exceptions, status


class ApiErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    INVALID_TOKEN = "invalid_token"  # noqa: S105  (an error code)
    INSUFFICIENT_SCOPE = "insufficient_scope"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TOO_LARGE = "request_too_large"
    PRECONDITION_FAILED = "precondition_failed"
    TOO_MANY_REQUESTS = "too_many_requests"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    SERVER_ERROR = "server_error"


class InsufficientScope(exceptions.PermissionDenied):
    """The token's scopes do not cover what the request needs."""

    def __init__(self, description: str, forbidden_claims: list[str] | None = None):
        super().__init__(description)
        self.forbidden_claims = forbidden_claims


class InvalidClaims(exceptions.ValidationError):
    """Written values or claims that are wrong, keyed by 'category.claim'."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.claim_errors = errors


class InvalidParameter(exceptions.ValidationError):
    """A query parameter that cannot be honoured (e.g. ordering by an unreadable claim)."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since the version named in If-Match."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


class ProviderUnavailableError(exceptions.APIException):
    """The external provider that must vouch for the token cannot be reached; retry later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The token's provider cannot be reached; retry later."
