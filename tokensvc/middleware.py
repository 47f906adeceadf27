"""Our middleware: a database that cannot be reached is a 503 the client can retry, not a 500;
and the middleware that serves people in a browser kept off the machine endpoints."""

import logging

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
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


class _PeopleOnly:
    """A middleware that serves people in a browser (sessions, sign-in, messages, the admin's
    audit actor) steps aside on the machine endpoints
    (settings.MACHINE_PATH_PREFIXES): they are called with bearer tokens or client credentials,
    never by a signed-in person, so no session, cookie or form exists there, and every request
    would pay for it."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.machine_paths = tuple(settings.MACHINE_PATH_PREFIXES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.machine_paths):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PeopleOnly, session_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_PeopleOnly, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PeopleOnly, message_middleware.MessageMiddleware):
    pass


class OfficerAuditlogMiddleware(_PeopleOnly, AuditlogMiddleware):
    """django-auditlog's actor context (who changed what in the admin). Entering it connects
    signal receivers on every request; on the machine endpoints no officer acts, and what changes
    there is recorded as AuditEvents (and by auditlog itself, without an actor)."""
