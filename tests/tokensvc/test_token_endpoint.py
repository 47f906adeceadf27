"""The token endpoint over HTTP: client credentials with API key, role scopes, the response."""

import base64
import logging
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts.models import ApiKey, AuditEvent, Client
from accounts.services import api_key_issue

TOKEN_URL = "/oauth/token/"
FORM = "application/x-www-form-urlencoded"

PROFILE = ["age", "email", "name"]
ADDRESS = ["city", "country", "postal_code", "street"]
BANKING = ["annual_income", "bank_name", "credit_limit", "iban"]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def request_token(client, issued, *, api_key="same", method="basic", **params):
    """POST the token endpoint as an integration would."""
    params.setdefault("grant_type", "client_credentials")
    headers = {}
    key = issued.api_key if api_key == "same" else api_key
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    if method == "basic":
        headers["HTTP_AUTHORIZATION"] = basic(issued.client.client_id, issued.client_secret)
    else:
        params |= {"client_id": issued.client.client_id, "client_secret": issued.client_secret}
    return client.post(TOKEN_URL, urlencode(params), content_type=FORM, **headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "scope", "claims"),
    [
        ("viewer", "basic:read", {"profile": ["email", "name"]}),
        ("salesperson", "profile:read", {"profile": PROFILE}),
        ("editor", "profile:read profile:write", {"profile": PROFILE}),
        ("manager", "address:read profile:read", {"address": ADDRESS, "profile": PROFILE}),
        (
            "admin",
            "address:read address:write banking:read banking:write basic:read profile:read profile:write",
            {"address": ADDRESS, "banking": BANKING, "profile": PROFILE},
        ),
    ],
)
@pytest.mark.parametrize("method", ["basic", "post"])
def test_each_role_gets_exactly_its_scopes_and_claims(client, make_client, role, scope, claims, method):
    response = request_token(client, make_client(role), method=method)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "granted_claims"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert sorted(body["scope"].split()) == scope.split()
    assert body["granted_claims"] == claims
    assert len(body["access_token"]) >= 43
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_subset_of_the_role_scopes_is_honoured(client, make_client):
    response = request_token(client, make_client("manager"), scope="profile:read")
    assert response.status_code == 200
    assert response.json()["scope"] == "profile:read"
    assert response.json()["granted_claims"] == {"profile": PROFILE}


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["banking:read", "profile:read banking:read", "nonsense", "profile:admin"])
def test_scope_outside_the_role_is_invalid_scope_and_issues_nothing(client, make_client, scope):
    from oauth2_provider.models import get_access_token_model

    response = request_token(client, make_client("manager"), scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response["Cache-Control"] == "no-store"
    assert get_access_token_model().objects.count() == 0


def _refused(response, *, basic_used=True):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body == {"error": "invalid_client", "error_description": "Client authentication failed."}
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    if basic_used:
        assert response["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["basic", "post"])
def test_wrong_secret_is_invalid_client(client, make_client, method):
    issued = make_client("manager")
    wrong = type(issued)(issued.client, issued.client_secret[:-1] + "x", issued.api_key)
    _refused(request_token(client, wrong, method=method), basic_used=method == "basic")


@pytest.mark.django_db
def test_unknown_client_is_invalid_client(client, make_client):
    issued = make_client("manager")
    issued.client.client_id = "no-such-client"
    _refused(request_token(client, issued))


@pytest.mark.django_db
@pytest.mark.parametrize("api_key", [None, "", "tk_nope.nope", "garbage"])
def test_missing_or_wrong_api_key_is_invalid_client(client, make_client, api_key):
    _refused(request_token(client, make_client("manager"), api_key=api_key))


@pytest.mark.django_db
def test_api_key_of_another_client_is_invalid_client(client, make_client):
    mine, theirs = make_client("manager"), make_client("admin")
    _refused(request_token(client, mine, api_key=theirs.api_key))


@pytest.mark.django_db
def test_revoked_api_key_is_invalid_client(client, make_client):
    issued = make_client("manager")
    ApiKey.objects.filter(client=issued.client).update(revoked_at=timezone.now())
    _refused(request_token(client, issued))


@pytest.mark.django_db
def test_expired_api_key_is_invalid_client_and_a_fresh_one_works(client, make_client):
    issued = make_client("manager")
    ApiKey.objects.filter(client=issued.client).update(expires_at=timezone.now())
    _refused(request_token(client, issued))
    _, fresh = api_key_issue(client=issued.client)
    assert request_token(client, issued, api_key=fresh).status_code == 200


@pytest.mark.django_db
def test_disabled_client_is_invalid_client(client, make_client):
    issued = make_client("manager")
    Client.objects.filter(pk=issued.client.pk).update(is_active=False)
    _refused(request_token(client, issued))


@pytest.mark.django_db
def test_client_without_api_key_needs_none(client, make_client):
    issued = make_client("viewer", with_api_key=False)
    assert request_token(client, issued, api_key=None).status_code == 200


@pytest.mark.django_db
def test_the_stored_hash_does_not_work_as_the_secret(client, make_client):
    issued = make_client("manager")
    stored = Client.objects.get(pk=issued.client.pk).client_secret
    _refused(request_token(client, type(issued)(issued.client, stored, issued.api_key)))


@pytest.mark.django_db
def test_two_authentication_methods_at_once_are_refused(client, make_client):
    issued = make_client("manager")
    response = client.post(
        TOKEN_URL,
        urlencode(
            {"grant_type": "client_credentials", "client_id": issued.client.client_id, "client_secret": "x"}
        ),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )
    _refused(response)


@pytest.mark.django_db
def test_all_failures_read_the_same(client, make_client):
    """The description never tells which of client_id, secret and API key was wrong."""
    issued = make_client("manager")
    bodies = {
        request_token(client, issued, api_key="wrong").content,
        request_token(client, type(issued)(issued.client, "wrong", issued.api_key)).content,
    }
    issued.client.client_id = "unknown"
    bodies.add(request_token(client, issued).content)
    assert len(bodies) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"grant_type": "client_credentials"}'),
        ("multipart/form-data; boundary=x", "--x--"),
        ("text/plain", "grant_type=client_credentials"),
        ("application/x-www-form-urlencoded; charset=latin-1", "grant_type=client_credentials"),
        ("application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=password"),
        ("application/x-www-form-urlencoded", "grant_type=client_credentials&scope=a%00b"),
        ("application/x-www-form-urlencoded", "grant_type=client_credentials&scope=%ff%fe"),
        ("application/x-www-form-urlencoded", "grant_type=client_%zz"),
        ("application/x-www-form-urlencoded", ""),
        ("application/x-www-form-urlencoded", "grant_type=" + "a" * 20000),
    ],
)
def test_bad_bodies_are_clean_json_errors(client, make_client, content_type, body):
    issued = make_client("manager")
    response = client.post(
        TOKEN_URL,
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] in {"invalid_request", "unsupported_grant_type"}
    assert body["error_description"]


@pytest.mark.django_db
def test_binary_body_is_a_clean_error(client, make_client):
    response = client.generic(
        "POST", TOKEN_URL, b"\xff\xfe\x00grant", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"\xff\xfe").decode(),
        "Basic Zm9v",
        "Bearer ",
    ],
)
def test_malformed_basic_headers_are_invalid_client(client, authorization):
    response = client.post(
        TOKEN_URL, "grant_type=client_credentials", content_type=FORM, HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.django_db
def test_missing_or_unknown_grant_type(client, make_client):
    issued = make_client("manager")
    assert request_token(client, issued, grant_type="").json()["error"] in {
        "invalid_request",
        "unsupported_grant_type",
    }
    assert request_token(client, issued, grant_type="password", username="u", password="p").status_code == 400
    response = request_token(client, issued, grant_type="urn:nope")
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.django_db
def test_client_credentials_client_cannot_use_other_grants(client, make_client):
    response = request_token(client, make_client("manager"), grant_type="refresh_token", refresh_token="x")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in {"invalid_grant", "unauthorized_client"}


@pytest.mark.django_db
def test_get_is_method_not_allowed_in_json(client):
    response = client.get(TOKEN_URL + "?grant_type=client_credentials")
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_query_string_parameters_are_refused(client, make_client):
    issued = make_client("manager")
    response = client.post(
        TOKEN_URL + f"?client_secret={issued.client_secret}",
        "grant_type=client_credentials",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_issuance_and_refusals_are_audited_without_secrets(client, make_client):
    issued = make_client("manager")
    request_token(client, issued, scope="profile:read")
    request_token(client, issued, api_key="wrong-key")
    request_token(client, issued, scope="banking:read")
    events = list(AuditEvent.objects.order_by("occurred_at", "id"))
    assert [e.action for e in events] == ["token.issued", "token.refused", "token.refused"]
    issued_event, wrong_key, wrong_scope = events
    assert issued_event.client == issued.client
    assert issued_event.granted_scope == "profile:read"
    assert issued_event.source_ip == "127.0.0.1"
    assert wrong_key.error == "invalid_client"
    assert wrong_key.reason == "API key unknown or of another client"
    assert wrong_scope.error == "invalid_scope"
    assert "banking:read" in wrong_scope.reason
    for event in events:
        text = repr(vars(event))
        assert issued.client_secret not in text
        assert issued.api_key not in text


@pytest.mark.django_db
def test_tokens_are_not_stored_in_clear(client, make_client):
    from oauth2_provider.models import get_access_token_model

    token = request_token(client, make_client("admin")).json()["access_token"]
    stored = get_access_token_model().objects.get()
    assert token not in repr(vars(stored))


@pytest.mark.django_db
def test_no_secret_reaches_the_logs_even_at_debug(client, make_client, caplog):
    issued = make_client("manager")
    with caplog.at_level(logging.DEBUG):
        token = request_token(client, issued).json()["access_token"]
        request_token(client, issued, api_key="wrong")
        request_token(client, type(issued)(issued.client, "wrong-secret", issued.api_key))
        request_token(client, issued, method="post", scope="banking:read")
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in (issued.client_secret, issued.api_key, token, "wrong-secret"):
        assert secret not in logged


def test_machine_endpoints_carry_no_session_or_cookie_machinery(client, issue_token):
    """Sessions and sign-in serve people; the token endpoint and the API skip them."""
    token = issue_token("manager")
    api = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 200
    assert not api.cookies
    assert "Cookie" not in api.get("Vary", "")
    admin = client.get("/admin/login/")
    assert "Cookie" in admin.get("Vary", "")  # people's pages still have their sessions
