"""People's middleware steps aside on the machine endpoints; CSRF guards the people's pages."""

import pytest
from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client
from django.utils.module_loading import import_string
from oauth2_provider.models import get_grant_model

from tests.tokensvc.oauth_helpers import (
    AUTHORIZE_URL,
    authorize_params,
    browser_app,
    hidden_fields,
    person,
    pkce_pair,
)
from tokensvc.middleware import _PeopleOnly

PEOPLE_MIDDLEWARE = [SessionMiddleware, AuthenticationMiddleware, MessageMiddleware, AuditlogMiddleware]


@pytest.mark.parametrize("people", PEOPLE_MIDDLEWARE, ids=lambda kind: kind.__name__)
def test_the_installed_people_middleware_steps_aside_on_machine_paths(people):
    installed = [
        import_string(path) for path in settings.MIDDLEWARE if issubclass(import_string(path), people)
    ]
    assert len(installed) == 1, installed
    assert issubclass(installed[0], _PeopleOnly)


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
    # The machine endpoints' views are csrf_exempt: a client library that keeps cookies still
    # gets the OAuth answer, here the refusal of its missing credentials (RFC 6749 §5.2).
    machine = Client(enforce_csrf_checks=True)
    machine.cookies[settings.CSRF_COOKIE_NAME] = "x" * 32
    answer = machine.post(
        "/oauth/token/", "grant_type=client_credentials", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
