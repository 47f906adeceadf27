"""Django-level 404/500 pages: JSON for the machine-facing paths, HTML for the admin."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from tokensvc.errors import json_response

MACHINE_PREFIXES = ("/api/", "/oauth/", "/.well-known/")


def _is_machine(request: HttpRequest) -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_machine(request):
        return json_response({"error": "not_found", "error_description": "No such endpoint."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_machine(request):
        return json_response({"error": "server_error", "error_description": "Internal error."}, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_machine(request):
        return json_response({"error": "invalid_request", "error_description": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)
