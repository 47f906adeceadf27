"""People's middleware steps aside on the machine endpoints and works on the people's pages."""

import pytest
from auditlog.middleware import AuditlogMiddleware
from axes import middleware as axes_middleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.middleware import csrf
from django.test import Client, RequestFactory, override_settings
from django.utils.module_loading import import_string
from oauth2_provider.models import get_grant_model

from accounts.checks import check_axes_middleware_installed
from tests.tokensvc.oauth_helpers import (
    AUTHORIZE_URL,
    authorize_params,
    browser_app,
    hidden_fields,
    person,
    pkce_pair,
)
from tokensvc.middleware import AxesMiddleware, CsrfViewMiddleware, _PeopleOnly

MACHINE_PATHS = ["/oauth/token/", "/oauth/introspect/", "/oauth/revoke/", "/api/v1/customers/7/"]
PEOPLE_PATHS = ["/admin/login/", "/accounts/login/"]


PEOPLE_MIDDLEWARE = [
    SessionMiddleware,
    csrf.CsrfViewMiddleware,
    AuthenticationMiddleware,
    MessageMiddleware,
    AuditlogMiddleware,
    axes_middleware.AxesMiddleware,
]


@pytest.mark.parametrize("people", PEOPLE_MIDDLEWARE, ids=lambda kind: kind.__name__)
def test_the_installed_people_middleware_steps_aside_on_machine_paths(people):
    installed = [
        import_string(path) for path in settings.MIDDLEWARE if issubclass(import_string(path), people)
    ]
    assert len(installed) == 1, installed
    assert issubclass(installed[0], _PeopleOnly)


def passed_through(request) -> HttpResponse:
    return HttpResponse("from the view")


def with_csrf_cookie(path: str):
    request = RequestFactory().post(path)
    request.COOKIES[settings.CSRF_COOKIE_NAME] = "x" * 32
    return request


@pytest.mark.parametrize("path", MACHINE_PATHS)
def test_csrf_reads_no_cookie_on_a_machine_endpoint(path):
    request = with_csrf_cookie(path)
    CsrfViewMiddleware(passed_through)(request)
    assert "CSRF_COOKIE" not in request.META


@pytest.mark.parametrize("path", PEOPLE_PATHS)
def test_csrf_reads_the_cookie_on_a_people_page(path):
    request = with_csrf_cookie(path)
    CsrfViewMiddleware(passed_through)(request)
    assert request.META["CSRF_COOKIE"] == "x" * 32


@pytest.mark.parametrize("path", MACHINE_PATHS)
def test_axes_leaves_a_machine_endpoints_answer_alone(path):
    request = RequestFactory().post(path)
    request.axes_locked_out = True  # what axes' backend sets on a locked-out sign-in
    assert AxesMiddleware(passed_through)(request).content == b"from the view"


@pytest.mark.django_db
def test_axes_answers_a_locked_out_sign_in():
    request = RequestFactory().post("/admin/login/")
    request.axes_locked_out = True
    request.axes_credentials = {"username": "olga"}
    assert AxesMiddleware(passed_through)(request).status_code == 429


@pytest.mark.django_db
def test_a_consent_without_its_csrf_token_is_refused_over_http():
    # The consent page (django-oauth-toolkit's authorization view) has no CSRF decorator of its
    # own, unlike the admin's sign-in: only the middleware guards it.
    browser = Client(enforce_csrf_checks=True)
    app, user = browser_app(), person()
    browser.force_login(user)
    _verifier, challenge = pkce_pair()
    page = browser.get(AUTHORIZE_URL, authorize_params(app, challenge))
    fields = hidden_fields(page.content.decode())  # the form's fields, its CSRF token left out
    answer = browser.post(AUTHORIZE_URL, {**fields, "allow": "Authorize"})
    assert answer.status_code == 403
    assert not get_grant_model().objects.exists()


@pytest.mark.django_db
def test_a_machine_client_with_a_stray_cookie_needs_no_csrf_token():
    # The endpoints' views are csrf_exempt; this holds with the middleware stepping aside or not.
    machine = Client(enforce_csrf_checks=True)
    machine.cookies[settings.CSRF_COOKIE_NAME] = "x" * 32
    answer = machine.post(
        "/oauth/token/", "grant_type=client_credentials", content_type="application/x-www-form-urlencoded"
    )
    # Refused for its missing credentials (RFC 6749 §5.2), not by CSRF.
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_the_axes_middleware_check_accepts_the_subclass():
    assert "axes.middleware.AxesMiddleware" not in settings.MIDDLEWARE
    assert check_axes_middleware_installed() == []


def test_the_axes_middleware_check_warns_when_none_is_installed():
    without = [path for path in settings.MIDDLEWARE if "AxesMiddleware" not in path]
    with override_settings(MIDDLEWARE=without):
        assert [message.id for message in check_axes_middleware_installed()] == ["accounts.W001"]
