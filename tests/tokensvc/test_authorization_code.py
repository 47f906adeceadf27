"""People sign in through the authorization-code flow with PKCE; tokens follow the person's role."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_grant_model, get_refresh_token_model

from accounts.models import Role, User
from claims.models import Scope
from tests.tokensvc.oauth_helpers import (
    ADDRESS,
    AUTHORIZE_URL,
    LOGIN_URL,
    METADATA_URL,
    PASSWORD,
    PROFILE,
    REDIRECT_URI,
    TOKEN_URL,
    authorize_params,
    browser_app,
    code_for,
    consent,
    exchange_code,
    hidden_fields,
    people_tokens,
    person,
    pkce_pair,
    post_form,
    query_of,
    refresh,
    without_query,
)

pytestmark = pytest.mark.django_db


def _assert_token_error(response, status: int, error: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert "access_token" not in body


# ---------------------------------------------------------------- the full flow


def test_consent_page_carries_the_request_in_hidden_fields(client):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(app, challenge))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert app.name in response.content.decode()
    fields = hidden_fields(response.content.decode())
    assert fields["client_id"] == app.client_id
    assert fields["redirect_uri"] == REDIRECT_URI
    assert fields["response_type"] == "code"
    assert fields["state"] == "xyz"
    assert fields["code_challenge"] == challenge
    assert fields["code_challenge_method"] == "S256"
    assert sorted(fields["scope"].split()) == ["address:read", "profile:read"]


def test_pkce_s256_flow_issues_tokens_following_the_users_role(client):
    app, user = browser_app(), person(role="manager")
    client.force_login(user)
    verifier, challenge = pkce_pair()

    approved = consent(client, app, challenge)
    assert approved.status_code == 302
    location = approved["Location"]
    assert without_query(location) == REDIRECT_URI
    answer = query_of(location)
    assert answer["state"] == "xyz"
    assert answer["code"]
    # RFC 9207: the issuer is in the authorization response and is the published one.
    assert answer["iss"] == client.get(METADATA_URL).json()["issuer"]

    response = exchange_code(client, app, answer["code"], verifier)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["refresh_token"] != body["access_token"]
    assert sorted(body["scope"].split()) == ["address:read", "profile:read"]
    assert body["granted_claims"] == {"address": ADDRESS, "profile": PROFILE}


def test_token_follows_the_users_role_not_the_apps(client):
    """The app is admin, the person a salesperson: the token gets no more than the person's role."""
    app, user = browser_app(role="admin"), person(role="salesperson")
    body = people_tokens(client, app, user, scope="profile:read")
    assert body["scope"] == "profile:read"
    assert body["granted_claims"] == {"profile": PROFILE}


def test_code_is_single_use(client):
    app, user = browser_app(), person()
    client.force_login(user)
    verifier, challenge = pkce_pair()
    code = code_for(client, app, challenge)
    assert exchange_code(client, app, code, verifier).status_code == 200
    _assert_token_error(exchange_code(client, app, code, verifier), 400, "invalid_grant")


def test_denying_consent_redirects_with_access_denied_and_no_code(client):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    page = client.get(AUTHORIZE_URL, authorize_params(app, challenge))
    fields = hidden_fields(page.content.decode())
    response = client.post(AUTHORIZE_URL, fields)  # "Cancel": no allow field
    assert response.status_code == 302
    assert without_query(response["Location"]) == REDIRECT_URI
    answer = query_of(response["Location"])
    assert answer["error"] == "access_denied"
    assert answer["state"] == "xyz"
    assert "code" not in answer


@pytest.mark.parametrize(
    "case", ["access_denied", "missing_code_challenge", "plain_method", "scope_outside_role"]
)
def test_error_redirects_carry_the_issuer(client, case):
    """RFC 9207 §2: the `iss` parameter is in every authorization response, errors included
    (the metadata advertises authorization_response_iss_parameter_supported)."""
    app, user = browser_app(), person("victor", role="viewer" if case == "scope_outside_role" else "manager")
    client.force_login(user)
    verifier, challenge = pkce_pair()
    overrides = {
        "access_denied": {},
        "missing_code_challenge": {"code_challenge": None, "code_challenge_method": None},
        "plain_method": {"code_challenge": verifier, "code_challenge_method": "plain"},
        "scope_outside_role": {"scope": "profile:read"},
    }[case]
    response = client.get(AUTHORIZE_URL, authorize_params(app, challenge, **overrides))
    if response.status_code == 200:
        fields = hidden_fields(response.content.decode())
        if case != "access_denied":
            fields["allow"] = "Authorize"
        response = client.post(AUTHORIZE_URL, fields)
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert "error" in answer
    assert answer.get("iss") == client.get(METADATA_URL).json()["issuer"]


# ---------------------------------------------------------------- scopes outside the person's role


def _approve_and_expect_invalid_scope(client, app, challenge: str, scope: str):
    """The consent page is bounded by the app's role, so it renders; approving it for a person
    whose role lacks the scope sends invalid_scope back to the app, and no grant exists."""
    page = client.get(AUTHORIZE_URL, authorize_params(app, challenge, scope=scope))
    assert page.status_code == 200
    response = client.post(AUTHORIZE_URL, {**hidden_fields(page.content.decode()), "allow": "Authorize"})
    assert response.status_code == 302
    assert without_query(response["Location"]) == REDIRECT_URI
    answer = query_of(response["Location"])
    assert answer["error"] == "invalid_scope"
    assert answer["state"] == "xyz"
    assert "code" not in answer
    assert not get_grant_model().objects.exists()


def test_scope_outside_the_users_role_is_invalid_scope_on_approval(client):
    """A viewer (basic:read only) asks for profile:read through an admin app."""
    app, user = browser_app(role="admin"), person("victor", role="viewer")
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    _approve_and_expect_invalid_scope(client, app, challenge, "profile:read")


def test_one_scope_outside_the_role_refuses_the_whole_request(client):
    app, user = browser_app(role="admin"), person("victor", role="viewer")
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    _approve_and_expect_invalid_scope(client, app, challenge, "basic:read profile:read")


def test_consent_form_tampered_to_a_scope_outside_the_role_is_invalid_scope(client):
    """Editing the hidden scope field after the GET does not get the viewer profile:read."""
    app, user = browser_app(role="admin"), person("victor", role="viewer")
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    page = client.get(AUTHORIZE_URL, authorize_params(app, challenge, scope="basic:read"))
    assert page.status_code == 200
    fields = hidden_fields(page.content.decode()) | {"scope": "profile:read"}
    response = client.post(AUTHORIZE_URL, {**fields, "allow": "Authorize"})
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert answer["error"] == "invalid_scope"
    assert "code" not in answer


def test_viewer_gets_exactly_basic_read(client):
    app, user = browser_app(role="admin"), person("victor", role="viewer")
    body = people_tokens(client, app, user, scope="basic:read")
    assert body["scope"] == "basic:read"
    assert body["granted_claims"] == {"profile": ["email", "name"]}


def test_user_without_a_role_gets_no_code(client):
    app, user = browser_app(), person("nobody", role=None)
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    _approve_and_expect_invalid_scope(client, app, challenge, "basic:read")


# ---------------------------------------------------------------- PKCE


def test_pkce_plain_is_refused(client):
    """`plain` is never accepted: whether refused at once or on approval, no code is issued."""
    app, user = browser_app(), person()
    client.force_login(user)
    verifier, _challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(app, verifier, code_challenge_method="plain"))
    if response.status_code == 200:  # the consent page; the refusal comes when it is approved
        fields = hidden_fields(response.content.decode())
        response = client.post(AUTHORIZE_URL, {**fields, "allow": "Authorize"})
    assert response.status_code == 302
    assert without_query(response["Location"]) == REDIRECT_URI
    answer = query_of(response["Location"])
    assert answer["error"] == "invalid_request"
    assert "S256" in answer["error_description"]
    assert answer["state"] == "xyz"
    assert "code" not in answer
    assert not get_grant_model().objects.exists()


@pytest.mark.parametrize("method", ["S512", "s256", ""])
def test_unknown_code_challenge_method_is_refused(client, method):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(app, challenge, code_challenge_method=method))
    assert response.status_code == 302
    answer = query_of(response["Location"])
    assert answer["error"] == "invalid_request"
    assert "code" not in answer


def test_missing_code_challenge_is_refused(client):
    app, user = browser_app(), person()
    client.force_login(user)
    response = client.get(AUTHORIZE_URL, authorize_params(app, None, code_challenge_method=None))
    assert response.status_code == 302
    assert without_query(response["Location"]) == REDIRECT_URI
    answer = query_of(response["Location"])
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "Code challenge required."
    assert answer["state"] == "xyz"
    assert "code" not in answer


def test_wrong_code_verifier_is_invalid_grant(client):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    code = code_for(client, app, challenge)
    other_verifier, _ = pkce_pair()
    _assert_token_error(exchange_code(client, app, code, other_verifier), 400, "invalid_grant")


def test_missing_code_verifier_is_refused(client):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    code = code_for(client, app, challenge)
    response = exchange_code(client, app, code, None)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}
    assert "access_token" not in response.json()


def test_code_exchanged_with_a_different_redirect_uri_is_refused(client):
    app, user = browser_app(), person()
    client.force_login(user)
    verifier, challenge = pkce_pair()
    code = code_for(client, app, challenge)
    response = exchange_code(client, app, code, verifier, redirect_uri=REDIRECT_URI + "/")
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_grant", "invalid_request"}
    assert "access_token" not in response.json()


# ---------------------------------------------------------------- redirect URI


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI + "?next=https://evil.example",
        "https://app.example.com/callback/../evil",
        REDIRECT_URI + "#fragment",
        "https://evil@app.example.com/callback",
        "https://app.example.com:8443/callback",
        "https://app.example.com/callback;x=1",
        "http://app.example.com/callback",
        "https://evil.example/callback",
    ],
)
def test_unregistered_redirect_uri_is_refused_without_redirecting(client, redirect_uri):
    app, user = browser_app(), person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(app, challenge, redirect_uri=redirect_uri))
    assert response.status_code == 400, response.get("Location")
    assert "Location" not in response
    assert "code=" not in response.content.decode()


def test_unknown_client_id_is_refused_without_redirecting(client):
    user = person()
    client.force_login(user)
    _verifier, challenge = pkce_pair()
    params = authorize_params(browser_app(), challenge, client_id="no-such-app")
    response = client.get(AUTHORIZE_URL, params)
    assert response.status_code == 400
    assert "Location" not in response


# ---------------------------------------------------------------- login


def test_unauthenticated_authorize_redirects_to_login_keeping_the_request(client):
    app = browser_app()
    _verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_params(app, challenge))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(LOGIN_URL + "?")
    next_url = query_of(location)["next"]
    assert next_url.startswith(AUTHORIZE_URL + "?")
    assert query_of(next_url)["client_id"] == app.client_id
    assert query_of(next_url)["code_challenge"] == challenge


def test_login_page_renders(client):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_logging_in_with_the_password_leads_back_to_authorize(client):
    app, _user = browser_app(), person()
    _verifier, challenge = pkce_pair()
    to_login = client.get(AUTHORIZE_URL, authorize_params(app, challenge))
    next_url = query_of(to_login["Location"])["next"]
    logged_in = client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD, "next": next_url})
    assert logged_in.status_code == 302
    assert logged_in["Location"] == next_url
    assert client.get(next_url).status_code == 200


# ---------------------------------------------------------------- refresh tokens


def test_refresh_rotates_the_refresh_token(client):
    app, user = browser_app(), person()
    first = people_tokens(client, app, user)
    response = refresh(client, app, first["refresh_token"])
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert sorted(second["scope"].split()) == ["address:read", "profile:read"]
    assert second["granted_claims"] == {"address": ADDRESS, "profile": PROFILE}
    # The new one works in turn.
    assert refresh(client, app, second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client):
    app, user = browser_app(), person()
    first = people_tokens(client, app, user)
    second = refresh(client, app, first["refresh_token"]).json()

    _assert_token_error(refresh(client, app, first["refresh_token"]), 400, "invalid_grant")
    # The thief's replay kills the legitimate holder's newer token too.
    _assert_token_error(refresh(client, app, second["refresh_token"]), 400, "invalid_grant")
    assert not get_refresh_token_model().objects.filter(revoked__isnull=True).exists()


def test_reuse_protection_leaves_other_families_alone(client):
    app, user = browser_app(), person()
    mine = people_tokens(client, app, user)
    other = people_tokens(client, app, user)
    refresh(client, app, mine["refresh_token"])
    refresh(client, app, mine["refresh_token"])  # replay: family of `mine` revoked
    assert refresh(client, app, other["refresh_token"]).status_code == 200


def test_a_rotated_refresh_token_replayed_by_another_app_still_revokes_its_family(client):
    # A leaked, used refresh token is the breach signal of RFC 9700 §4.14.2 whoever sends it
    # (a browser app's client_id is public: a thief can send the right one just as well).
    app, user = browser_app(), person()
    other_app = browser_app(name="Other app")
    first = people_tokens(client, app, user)
    second = refresh(client, app, first["refresh_token"]).json()
    _assert_token_error(refresh(client, other_app, first["refresh_token"]), 400, "invalid_grant")
    _assert_token_error(refresh(client, app, second["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_of_another_app_is_refused(client):
    app, user = browser_app(), person()
    other_app = browser_app(name="Other app")
    tokens = people_tokens(client, app, user)
    response = refresh(client, other_app, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_after_the_role_lost_a_scope_does_not_claim_it(client):
    """Live policy: a refresh cannot hand out a scope the person's role no longer holds; it is
    either narrowed to what the role still holds or refused."""
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    Role.objects.get(name="manager").scopes.remove(Scope.objects.get(name="address:read"))
    response = refresh(client, app, tokens["refresh_token"])
    if response.status_code == 200:
        body = response.json()
        assert body["granted_claims"] == {"profile": PROFILE}
        assert body["scope"].split() == ["profile:read"], body
    else:
        _assert_token_error(response, 400, "invalid_scope")


def test_refresh_asking_for_a_scope_the_role_lost_is_invalid_scope(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    Role.objects.get(name="manager").scopes.remove(Scope.objects.get(name="address:read"))
    response = post_form(
        client,
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
            "scope": "address:read",
        },
    )
    _assert_token_error(response, 400, "invalid_scope")


def test_refresh_may_narrow_the_scope(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    response = post_form(
        client,
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
            "scope": "profile:read",
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile:read"
    assert response.json()["granted_claims"] == {"profile": PROFILE}


def test_refresh_cannot_widen_the_scope(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user, scope="profile:read")
    response = post_form(
        client,
        TOKEN_URL,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
            "scope": "profile:read address:read",
        },
    )
    _assert_token_error(response, 400, "invalid_scope")


def test_deactivated_person_cannot_refresh(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    _assert_token_error(refresh(client, app, tokens["refresh_token"]), 400, "invalid_grant")


def test_person_whose_role_was_removed_cannot_refresh(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    User.objects.filter(pk=user.pk).update(role=None)
    response = refresh(client, app, tokens["refresh_token"])
    assert response.status_code == 400, response.content
    assert response.json()["error"] in {"invalid_grant", "invalid_scope"}


def test_disabled_app_cannot_refresh(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    type(app).objects.filter(pk=app.pk).update(is_active=False)
    _assert_token_error(refresh(client, app, tokens["refresh_token"]), 401, "invalid_client")


@pytest.mark.django_db
def test_refresh_family_ends_at_the_absolute_lifetime(client, settings):
    app, user = browser_app(), person()
    client.force_login(user)
    tokens = people_tokens(client, app, user)
    rotated = refresh(client, app, tokens["refresh_token"]).json()
    assert "refresh_token" in rotated
    # The family began one lifetime ago: rotation cannot stretch it any further.
    started = timezone.now() - timedelta(seconds=settings.REFRESH_TOKEN_LIFETIME)
    get_refresh_token_model().objects.update(created=started)
    response = refresh(client, app, rotated["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
