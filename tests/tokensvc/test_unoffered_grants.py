"""Grants the token endpoint does not offer are refused before any credential is looked at."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request

from accounts.models import AuditEvent
from tests.tokensvc.oauth_helpers import (
    AUTHORIZE_URL,
    LOGIN_URL,
    PASSWORD,
    REDIRECT_URI,
    TOKEN_URL,
    basic,
    browser_app,
    person,
    post_form,
)
from tokensvc.oauth import OAuthServer, Validator

pytestmark = pytest.mark.django_db

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def password_grant(client, how: str, password: str, issued=None, app=None):
    params = {"grant_type": "password", "username": "alice", "password": password}
    if how == "public":
        return post_form(client, TOKEN_URL, {**params, "client_id": app.client_id})
    return post_form(
        client,
        TOKEN_URL,
        params,
        HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )


@pytest.mark.parametrize("how", ["public", "confidential"])
def test_the_password_grant_tells_no_right_password_from_a_wrong_one(client, make_client, how):
    person()
    issued, app = make_client("manager"), browser_app()
    right = password_grant(client, how, PASSWORD, issued, app)
    wrong = password_grant(client, how, "not the password", issued, app)
    assert right.status_code == wrong.status_code == 400
    assert right.json() == wrong.json()
    assert right.json()["error"] == "unsupported_grant_type"
    # No password was checked: django-axes records every failed check, and nothing here.
    assert not AccessAttempt.objects.exists()
    assert not AccessFailureLog.objects.exists()
    refused = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REFUSED)
    assert list(refused.values_list("error", flat=True)) == ["unsupported_grant_type"] * 2


def test_guesses_at_the_token_endpoint_do_not_lock_the_person_out_of_signing_in(client):
    person()
    app = browser_app()
    for _ in range(6):  # more than LOGIN_FAILURE_LIMIT
        password_grant(client, "public", "a guess", app=app)
    signed_in = client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD, "next": "/"})
    assert signed_in.status_code == 302


def test_the_device_code_grant_is_not_offered(client):
    app = browser_app()
    answer = post_form(client, TOKEN_URL, {"grant_type": DEVICE_CODE, "client_id": app.client_id})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def configured_server():
    return oauth2_settings.OAUTH2_SERVER_CLASS(oauth2_settings.OAUTH2_VALIDATOR_CLASS())


def test_oauthlib_runs_the_grants_the_metadata_publishes_but_token_exchange(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    ours = {"urn:ietf:params:oauth:grant-type:token-exchange"}  # run by tokensvc.token_exchange
    assert set(configured_server().grant_types) == set(metadata["grant_types_supported"]) - ours
    assert set(configured_server().response_types) == set(metadata["response_types_supported"])


def test_the_password_and_device_grants_stay_out_even_if_listed():
    listed = [*oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED, "password", DEVICE_CODE]
    with override_settings(
        OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "OAUTH2_GRANT_TYPES_SUPPORTED": listed}
    ):
        assert not {"password", DEVICE_CODE} & set(OAuthServer(Validator()).grant_types)


def test_an_implicit_request_is_an_unsupported_response_type(client):
    app, user = browser_app(), person()
    client.force_login(user)
    answer = client.get(
        AUTHORIZE_URL,
        {"client_id": app.client_id, "response_type": "token", "redirect_uri": REDIRECT_URI, "state": "s"},
    )
    assert answer.status_code == 302
    assert "error=unsupported_response_type" in answer["Location"]
    assert "access_token" not in answer["Location"]


def test_the_validator_never_checks_a_persons_password():
    alice = person()
    request = Request("https://testserver/oauth/token/")
    request.django_request = RequestFactory().post(TOKEN_URL)
    assert alice.check_password(PASSWORD)
    assert Validator().validate_user("alice", PASSWORD, None, request) is False
    assert not AccessAttempt.objects.exists()


def test_the_server_needs_the_code_grant_it_falls_back_to():
    grants = [g for g in oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED if g != "authorization_code"]
    with (
        override_settings(
            OAUTH2_PROVIDER={**settings.OAUTH2_PROVIDER, "OAUTH2_GRANT_TYPES_SUPPORTED": grants}
        ),
        pytest.raises(ImproperlyConfigured),
    ):
        OAuthServer(Validator())
