"""Grants the token endpoint does not offer are refused before any credential is looked at."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import RequestFactory
from oauthlib.common import Request

from accounts.models import AuditEvent
from tests.tokensvc.oauth_helpers import (
    LOGIN_URL,
    PASSWORD,
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


def test_oauthlib_runs_the_grants_the_metadata_publishes_but_token_exchange(client):
    published = set(client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"])
    ours = {"urn:ietf:params:oauth:grant-type:token-exchange"}  # run by tokensvc.token_exchange
    assert set(OAuthServer(Validator()).grant_types) == published - ours


def test_the_validator_never_checks_a_persons_password():
    alice = person()
    request = Request("https://testserver/oauth/token/")
    request.django_request = RequestFactory().post(TOKEN_URL)
    assert alice.check_password(PASSWORD)
    assert Validator().validate_user("alice", PASSWORD, None, request) is False
    assert not AccessAttempt.objects.exists()
