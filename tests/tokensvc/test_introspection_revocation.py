"""Introspection (RFC 7662) for resource servers and revocation (RFC 7009) for token owners."""

import hashlib
import time
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts.models import Role
from claims.models import Scope
from claims.selectors import policy_revision
from tests.tokensvc.oauth_helpers import (
    ADDRESS,
    BANKING,
    INTROSPECT_URL,
    PROFILE,
    REVOKE_URL,
    basic,
    browser_app,
    client_credentials_token,
    people_tokens,
    person,
    post_form,
    refresh,
)
from tokensvc.selectors import bearer_token_find, bearer_token_grant

pytestmark = pytest.mark.django_db

ADMIN_SCOPES = "address:read address:write banking:read banking:write basic:read profile:read profile:write"
TOKEN_DETAILS = ("scope", "client_id", "exp", "iat", "sub", "granted_claims", "token_type", "username")


def introspect(client, resource_server, token: str, *, api_key="same", **extra):
    headers = {"HTTP_AUTHORIZATION": basic(resource_server.client.client_id, resource_server.client_secret)}
    key = resource_server.api_key if api_key == "same" else api_key
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    return post_form(client, INTROSPECT_URL, {"token": token, **extra}, **headers)


def revoke(client, owner, token: str, *, api_key="same", **extra):
    headers = {"HTTP_AUTHORIZATION": basic(owner.client.client_id, owner.client_secret)}
    key = owner.api_key if api_key == "same" else api_key
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    return post_form(client, REVOKE_URL, {"token": token, **extra}, **headers)


def _active(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    return body


def _inactive(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"active": False}


def _refused_without_details(response, *, challenge=True):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"]
    assert "active" not in body
    for detail in TOKEN_DETAILS:
        assert detail not in body
    if challenge:
        assert response["WWW-Authenticate"].startswith("Basic ")


@pytest.fixture
def resource_server(make_client):
    return make_client("viewer", name="orders service", is_resource_server=True)


@pytest.fixture
def admin(make_client):
    return make_client("admin", name="back office")


# ---------------------------------------------------------------- introspection


def test_introspection_of_a_client_credentials_token(client, resource_server, admin):
    before = int(time.time())
    issued = client_credentials_token(client, admin)
    body = _active(introspect(client, resource_server, issued["access_token"]))
    after = int(time.time())
    assert body["scope"] == ADMIN_SCOPES
    assert sorted(body["scope"].split()) == sorted(issued["scope"].split())
    assert body["client_id"] == admin.client.client_id
    assert body["token_type"] == "Bearer"
    assert body["sub"] == admin.client.client_id
    assert body["granted_claims"] == issued["granted_claims"]
    assert body["granted_claims"] == {"address": ADDRESS, "banking": BANKING, "profile": PROFILE}
    assert before - 1 <= body["iat"] <= after
    assert body["exp"] - body["iat"] == issued["expires_in"]
    assert isinstance(body["exp"], int)
    assert isinstance(body["iat"], int)


def test_introspection_of_a_narrowed_token_lists_only_its_scope(client, resource_server, admin):
    issued = client_credentials_token(client, admin, scope="profile:read")
    body = _active(introspect(client, resource_server, issued["access_token"]))
    assert body["scope"] == "profile:read"
    assert body["granted_claims"] == {"profile": PROFILE} == issued["granted_claims"]


def test_introspection_with_post_credentials_works_too(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = post_form(
        client,
        INTROSPECT_URL,
        {
            "token": token,
            "client_id": resource_server.client.client_id,
            "client_secret": resource_server.client_secret,
        },
        HTTP_X_API_KEY=resource_server.api_key,
    )
    assert _active(response)["client_id"] == admin.client.client_id


def test_introspection_of_a_persons_token_names_the_person(client, resource_server):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    client.logout()
    body = _active(introspect(client, resource_server, tokens["access_token"]))
    assert body["sub"] == str(user.pk)
    assert body["client_id"] == app.client_id
    assert body["scope"] == "address:read profile:read"
    assert body["granted_claims"] == tokens["granted_claims"] == {"address": ADDRESS, "profile": PROFILE}


@pytest.mark.parametrize("token", ["no-such-token", "x" * 43, " ", "é" * 10])
def test_unknown_token_is_inactive(client, resource_server, token):
    _inactive(introspect(client, resource_server, token))


@pytest.mark.parametrize("params", [{}, {"token": ""}])
def test_missing_token_parameter_is_invalid_request(client, resource_server, params):
    response = post_form(
        client,
        INTROSPECT_URL,
        params,
        HTTP_AUTHORIZATION=basic(resource_server.client.client_id, resource_server.client_secret),
        HTTP_X_API_KEY=resource_server.api_key,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_revoked_token_is_inactive(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    _active(introspect(client, resource_server, token))
    assert revoke(client, admin, token).status_code == 200
    _inactive(introspect(client, resource_server, token))


def test_expired_token_is_inactive(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    checksum = hashlib.sha256(token.encode()).hexdigest()
    updated = (
        get_access_token_model()
        .objects.filter(token_checksum=checksum)
        .update(expires=timezone.now() - timedelta(seconds=1))
    )
    assert updated == 1
    _inactive(introspect(client, resource_server, token))


def test_token_of_a_disabled_client_is_inactive(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    type(admin.client).objects.filter(pk=admin.client.pk).update(is_active=False)
    _inactive(introspect(client, resource_server, token))


def test_token_of_a_deactivated_person_is_inactive(client, resource_server):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    _inactive(introspect(client, resource_server, tokens["access_token"]))


def test_client_that_is_not_a_resource_server_is_refused_without_details(client, make_client, admin):
    token = client_credentials_token(client, admin)["access_token"]
    not_a_resource_server = make_client("admin", name="plain integration")
    _refused_without_details(introspect(client, not_a_resource_server, token))


def test_token_owner_cannot_introspect_its_own_token_unless_resource_server(client, admin):
    token = client_credentials_token(client, admin)["access_token"]
    _refused_without_details(introspect(client, admin, token))


@pytest.mark.parametrize("api_key", [None, "", "tk_wrong.wrong"])
def test_resource_server_without_its_api_key_is_refused(client, resource_server, admin, api_key):
    token = client_credentials_token(client, admin)["access_token"]
    _refused_without_details(introspect(client, resource_server, token, api_key=api_key))


def test_resource_server_with_a_wrong_secret_is_refused(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    wrong = type(resource_server)(resource_server.client, "wrong-secret", resource_server.api_key)
    _refused_without_details(introspect(client, wrong, token))


def test_unauthenticated_introspection_is_refused(client, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = post_form(client, INTROSPECT_URL, {"token": token})
    _refused_without_details(response)


def test_public_browser_app_cannot_introspect(client, admin):
    app = browser_app()
    token = client_credentials_token(client, admin)["access_token"]
    response = post_form(client, INTROSPECT_URL, {"token": token, "client_id": app.client_id})
    _refused_without_details(response)
    # The same answer as for a client that does not exist, and no use of the app recorded.
    unknown = post_form(
        client, INTROSPECT_URL, {"token": token}, HTTP_AUTHORIZATION=basic("no-such-client", "a secret")
    )
    assert (response.status_code, response.json()) == (unknown.status_code, unknown.json())
    assert response["WWW-Authenticate"] == unknown["WWW-Authenticate"]
    app.refresh_from_db()
    assert app.last_used_at is None


def test_get_introspection_is_405_json(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = client.get(
        INTROSPECT_URL,
        {"token": token},
        HTTP_AUTHORIZATION=basic(resource_server.client.client_id, resource_server.client_secret),
        HTTP_X_API_KEY=resource_server.api_key,
    )
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST"
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "active" not in body


def test_json_body_is_invalid_request(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = client.post(
        INTROSPECT_URL,
        orjson.dumps({"token": token}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(resource_server.client.client_id, resource_server.client_secret),
        HTTP_X_API_KEY=resource_server.api_key,
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "active" not in body


def test_introspection_follows_the_live_policy(client, resource_server, admin):
    """A scope removed from the role stops counting for tokens issued before the change."""
    issued = client_credentials_token(client, admin)
    assert "banking" in issued["granted_claims"]
    Role.objects.get(name="admin").scopes.remove(Scope.objects.get(name="banking:read"))
    body = _active(introspect(client, resource_server, issued["access_token"]))
    assert "banking:read" not in body["scope"].split()
    assert "banking:write" in body["scope"].split()
    # banking:write remains, but nothing readable in banking is left.
    assert body["granted_claims"] == {"address": ADDRESS, "profile": PROFILE}


def test_the_token_lookup_reads_the_policy_revision_with_the_token(client, admin):
    """Introspection learns the policy's revision from the token's own row, so a change made
    just before is seen without a separate read."""
    raw = client_credentials_token(client, admin)["access_token"]
    assert bearer_token_find(raw).policy_revision == policy_revision()
    Role.objects.get(name="admin").scopes.remove(Scope.objects.get(name="banking:read"))
    token = bearer_token_find(raw)
    assert token.policy_revision == policy_revision() != 0
    assert "banking:read" not in bearer_token_grant(token).scopes


def test_introspection_follows_claims_removed_from_a_scope(client, resource_server, admin):
    issued = client_credentials_token(client, admin, scope="banking:read")
    banking_read = Scope.objects.get(name="banking:read")
    banking_read.claims.remove(*banking_read.claims.filter(name="iban"))
    body = _active(introspect(client, resource_server, issued["access_token"]))
    assert body["granted_claims"] == {"banking": ["annual_income", "bank_name", "credit_limit"]}


def test_token_whose_scopes_all_left_the_role_grants_nothing(client, resource_server, admin):
    issued = client_credentials_token(client, admin, scope="banking:read")
    Role.objects.get(name="admin").scopes.remove(Scope.objects.get(name="banking:read"))
    response = introspect(client, resource_server, issued["access_token"])
    assert response.status_code == 200
    body = response.json()
    # Either inactive, or active with no scope and no claim: never banking.
    assert not body.get("scope")
    assert not body.get("granted_claims")


def test_refresh_token_introspection(client, resource_server):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    body = _active(
        introspect(client, resource_server, tokens["refresh_token"], token_type_hint="refresh_token")
    )
    assert body["client_id"] == app.client_id
    assert body["sub"] == str(user.pk)
    assert "access_token" not in body


# ---------------------------------------------------------------- revocation


def test_owner_revokes_its_access_token(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = revoke(client, admin, token)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    _inactive(introspect(client, resource_server, token))


def test_owner_revokes_with_post_credentials(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = post_form(
        client,
        REVOKE_URL,
        {"token": token, "client_id": admin.client.client_id, "client_secret": admin.client_secret},
        HTTP_X_API_KEY=admin.api_key,
    )
    assert response.status_code == 200
    _inactive(introspect(client, resource_server, token))


def test_revocation_is_idempotent(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    assert revoke(client, admin, token).status_code == 200
    assert revoke(client, admin, token).status_code == 200
    _inactive(introspect(client, resource_server, token))


def test_revocation_with_a_wrong_hint_still_revokes(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    assert revoke(client, admin, token, token_type_hint="refresh_token").status_code == 200
    _inactive(introspect(client, resource_server, token))


def test_revoking_an_unknown_token_is_200(client, admin):
    response = revoke(client, admin, "no-such-token")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_another_client_cannot_revoke_the_token(client, make_client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    intruder = make_client("admin", name="intruder")
    # RFC 7009 §2.2: the same 200, so the intruder learns nothing; but the token lives on.
    assert revoke(client, intruder, token).status_code == 200
    assert _active(introspect(client, resource_server, token))["client_id"] == admin.client.client_id


def test_resource_server_cannot_revoke_tokens_it_introspects(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    assert revoke(client, resource_server, token).status_code == 200
    _active(introspect(client, resource_server, token))


@pytest.mark.parametrize("api_key", [None, "", "tk_wrong.wrong"])
def test_revocation_without_api_key_is_invalid_client(client, resource_server, admin, api_key):
    token = client_credentials_token(client, admin)["access_token"]
    response = revoke(client, admin, token, api_key=api_key)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response.json()["error"] == "invalid_client"
    # Nothing was revoked.
    _active(introspect(client, resource_server, token))


def test_revocation_with_a_wrong_secret_is_invalid_client(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    wrong = type(admin)(admin.client, "wrong-secret", admin.api_key)
    response = revoke(client, wrong, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    _active(introspect(client, resource_server, token))


def test_get_revocation_is_405_json(client):
    response = client.get(REVOKE_URL, {"token": "x"})
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


def test_json_revocation_body_is_invalid_request(client, resource_server, admin):
    token = client_credentials_token(client, admin)["access_token"]
    response = client.post(
        REVOKE_URL,
        orjson.dumps({"token": token}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(admin.client.client_id, admin.client_secret),
        HTTP_X_API_KEY=admin.api_key,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    _active(introspect(client, resource_server, token))


def test_revoking_a_refresh_token_kills_it(client, resource_server):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    client.logout()
    response = post_form(
        client,
        REVOKE_URL,
        {"token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": app.client_id},
    )
    assert response.status_code == 200, response.content
    refused = refresh(client, app, tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    _inactive(introspect(client, resource_server, tokens["refresh_token"], token_type_hint="refresh_token"))


def test_revoking_a_persons_access_token_also_kills_its_refresh_token(client, resource_server):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    client.logout()
    response = post_form(client, REVOKE_URL, {"token": tokens["access_token"], "client_id": app.client_id})
    assert response.status_code == 200, response.content
    _inactive(introspect(client, resource_server, tokens["access_token"]))
    assert refresh(client, app, tokens["refresh_token"]).status_code == 400


def test_another_app_cannot_revoke_a_persons_refresh_token(client):
    app, user = browser_app(), person()
    other_app = browser_app(name="Other app")
    tokens = people_tokens(client, app, user)
    client.logout()
    response = post_form(
        client, REVOKE_URL, {"token": tokens["refresh_token"], "client_id": other_app.client_id}
    )
    assert response.status_code == 200
    assert refresh(client, app, tokens["refresh_token"]).status_code == 200
