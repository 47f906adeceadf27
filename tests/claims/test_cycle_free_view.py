"""An API call is freed by reference counting as it ends: nothing of it is left for Python's
cycle collector, whose passes would otherwise run every few dozen calls
(claims.cycle_free_view).

Requests go to the WSGI application itself, as a server hands them over: Django's test client
keeps each response in reference cycles of its own (its `json` and `client` attributes).
"""

import gc
import io
import json
import sys
from contextlib import contextmanager

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from rest_framework.request import Request
from rest_framework.views import APIView


@contextmanager
def connections_kept_open():
    """As Django's test client does around each request: the test's transaction must outlive
    it (closing the connection inside it would break the transaction on PostgreSQL)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def application():
    return WSGIHandler()


def called(application, method: str, path: str, token: str | None, body: dict | bytes | None = None) -> str:
    """The status line of a request handed to the WSGI application."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": sys.stderr,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    status = []
    with connections_kept_open():
        chunks = application(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            b"".join(chunks)
        finally:
            chunks.close()
    return status[0]


def left_for_the_cycle_collector(calls) -> list[str]:
    """The requests, views and responses that only the cycle collector would free after `calls`."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        calls()
        gc.collect()
        kinds = (HttpRequest, Request, APIView, HttpResponseBase)
        return sorted(type(found).__name__ for found in gc.garbage if isinstance(found, kinds))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_answers_leave_nothing_for_the_cycle_collector(application, issue_token, customer):
    token = issue_token("admin")
    detail = f"/api/v1/customers/{customer.pk}/"
    answers = []

    def calls():
        answers.append(called(application, "GET", detail, token))
        answers.append(called(application, "HEAD", detail, token))
        answers.append(called(application, "GET", "/api/v1/customers/?page_size=5", token))
        answers.append(called(application, "PATCH", detail, token, {"profile": {"age": 41}}))
        # Refused PATCHes decided again from the database after the token's kept row
        # (tokensvc.kept_tokens): an unknown claim, and a body that is no JSON, whose error is
        # raised a second time. (Not a value refused by a model validator: Django's
        # ValidationError holds itself in its `error_list`, and with its traceback the stack.)
        answers.append(called(application, "PATCH", detail, token, {"profile": {"shoe_size": 1}}))
        answers.append(called(application, "PATCH", detail, token, b"{"))
        # DRF's own responses, errors and OPTIONS, which hold the view until they are rendered.
        answers.append(called(application, "GET", "/api/v1/customers/999999/", token))
        answers.append(called(application, "GET", detail, None))
        answers.append(called(application, "OPTIONS", detail, token))

    calls()  # first calls fill process-wide caches (policy, layouts, validation rules)
    assert left_for_the_cycle_collector(calls) == []
    once = ["200 OK"] * 4 + ["400 Bad Request"] * 2 + ["404 Not Found", "401 Unauthorized", "200 OK"]
    assert answers == once * 2
