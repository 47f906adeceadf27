"""A database that cannot be reached is a 503 the client can retry, not a 500."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from tokensvc.errors import json_response

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Answers `503 temporarily_unavailable` (RFC 6749 §5.2 shape, Retry-After) when the
    database is down or unreachable; Django reconnects by itself on a later request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.error("database unavailable: %s", type(exception).__name__)
        response = json_response(
            {"error": "temporarily_unavailable", "error_description": "The service is briefly unavailable."},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
