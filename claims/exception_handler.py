"""The one place that shapes every API error: JSON, RFC 6750 challenges, never HTML."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from claims.exceptions import (
    ApiErrorCode,
    InsufficientScope,
    InvalidClaims,
    InvalidParameter,
    PreconditionFailed,
    ProviderUnavailableError,
    RequestTooLarge,
)
from tokensvc.errors import NO_STORE_HEADERS, REALM

log = logging.getLogger(__name__)

_CODES = {
    exceptions.NotAuthenticated: ApiErrorCode.UNAUTHORIZED,
    exceptions.AuthenticationFailed: ApiErrorCode.INVALID_TOKEN,
    exceptions.PermissionDenied: ApiErrorCode.INSUFFICIENT_SCOPE,
    exceptions.NotFound: ApiErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ApiErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ApiErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.ParseError: ApiErrorCode.INVALID_REQUEST,
    exceptions.ValidationError: ApiErrorCode.INVALID_REQUEST,
    exceptions.Throttled: ApiErrorCode.TOO_MANY_REQUESTS,
    PreconditionFailed: ApiErrorCode.PRECONDITION_FAILED,
    RequestTooLarge: ApiErrorCode.REQUEST_TOO_LARGE,
    ProviderUnavailableError: ApiErrorCode.TEMPORARILY_UNAVAILABLE,
}


def _code(exc: exceptions.APIException) -> ApiErrorCode:
    for klass in type(exc).__mro__:
        if klass in _CODES:
            return _CODES[klass]
    return ApiErrorCode.INVALID_REQUEST


def _description(exc: exceptions.APIException) -> str:
    if isinstance(exc, InvalidParameter):
        return exc.description
    if isinstance(exc, exceptions.ValidationError):
        return "Some values are invalid."
    return str(exc.detail)


def _challenge(code: ApiErrorCode, description: str, scope: str = "") -> str:
    """The RFC 6750 §3 WWW-Authenticate value; no error attribute when no token was sent."""
    challenge = f'Bearer realm="{REALM}"'
    if code in (ApiErrorCode.INVALID_TOKEN, ApiErrorCode.INSUFFICIENT_SCOPE):
        challenge += f', error="{code}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    return challenge


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """Every API error as JSON: {"error": code, "error_description": ..., extra members}."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    # Django's own two (raised by DRF's negotiation for an unknown `?format=`, for one) become
    # DRF's, as DRF's handler would make them, so that they are described like every other.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, (OperationalError, InterfaceError)):
        return None  # re-raised: DatabaseUnavailableMiddleware answers 503 for every endpoint
    response = drf_exception_handler(exc, context)
    if response is None:
        # Anything unexpected is still JSON in the documented shape, and logged for operators.
        log.exception("unhandled error in %s", context.get("view").__class__.__name__)
        exc = exceptions.APIException()
        response = Response(status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        body = {"error": ApiErrorCode.SERVER_ERROR, "error_description": "Internal error."}
    else:
        code = _code(exc)
        body = {"error": code, "error_description": _description(exc)}
        if isinstance(exc, InsufficientScope) and exc.forbidden_claims is not None:
            body["forbidden_claims"] = exc.forbidden_claims
        if isinstance(exc, InvalidClaims):
            body["invalid_claims"] = exc.claim_errors
        if response.status_code in (401, 403) and code in _CHALLENGED:
            response["WWW-Authenticate"] = _challenge(code, body["error_description"])
    response.data = body
    if isinstance(exc, ProviderUnavailableError):
        response["Retry-After"] = "5"
    for name, value in NO_STORE_HEADERS.items():
        response[name] = value
    return response


_CHALLENGED = {ApiErrorCode.UNAUTHORIZED, ApiErrorCode.INVALID_TOKEN, ApiErrorCode.INSUFFICIENT_SCOPE}
