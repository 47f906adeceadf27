"""Discovery: GET /.well-known/oauth-authorization-server (RFC 8414) tells the truth."""

from urllib.parse import urlsplit

import pytest

from claims.models import Scope
from tests.tokensvc.oauth_helpers import LOGIN_URL, METADATA_URL

pytestmark = pytest.mark.django_db

SEEDED_SCOPES = [
    "address:read",
    "address:write",
    "banking:read",
    "banking:write",
    "basic:read",
    "profile:read",
    "profile:write",
]
ENDPOINTS = ("token_endpoint", "authorization_endpoint", "revocation_endpoint", "introspection_endpoint")


@pytest.fixture
def metadata(client) -> dict:
    response = client.get(METADATA_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_issuer_is_an_absolute_url_without_query_or_fragment(metadata):
    issuer = urlsplit(metadata["issuer"])
    assert issuer.scheme in ("http", "https")
    assert issuer.netloc == "testserver"
    assert not issuer.query
    assert not issuer.fragment
    assert not metadata["issuer"].endswith("/")


def test_issuer_follows_the_configured_issuer_url(client, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://auth.example.com"}
    assert client.get(METADATA_URL).json()["issuer"] == "https://auth.example.com"


@pytest.mark.parametrize("key", ENDPOINTS)
def test_endpoints_are_absolute_urls_under_the_issuer(metadata, key):
    url = urlsplit(metadata[key])
    assert url.scheme in ("http", "https")
    assert url.netloc == "testserver"
    assert metadata[key].startswith(metadata["issuer"] + "/")


def test_endpoints_are_the_documented_paths(metadata):
    assert {key: urlsplit(metadata[key]).path for key in ENDPOINTS} == {
        "token_endpoint": "/oauth/token/",
        "authorization_endpoint": "/oauth/authorize/",
        "revocation_endpoint": "/oauth/revoke/",
        "introspection_endpoint": "/oauth/introspect/",
    }


@pytest.mark.parametrize(
    ("key", "status"),
    [("token_endpoint", 401), ("revocation_endpoint", 401), ("introspection_endpoint", 401)],
)
def test_advertised_post_endpoints_exist(client, metadata, key, status):
    """An unauthenticated POST reaches the endpoint: a JSON OAuth error, never a 404."""
    path = urlsplit(metadata[key]).path
    data = "grant_type=client_credentials" if key == "token_endpoint" else "token=x"
    response = client.post(path, data, content_type="application/x-www-form-urlencoded")
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_client"


def test_advertised_authorization_endpoint_exists(client, metadata):
    response = client.get(urlsplit(metadata["authorization_endpoint"]).path)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_scopes_supported_are_the_seeded_scopes_sorted(metadata):
    assert metadata["scopes_supported"] == SEEDED_SCOPES


def test_a_new_scope_is_advertised_on_the_next_request(client, metadata):
    Scope.objects.create(name="orders:read", description="Read orders.")
    scopes = client.get(METADATA_URL).json()["scopes_supported"]
    assert scopes == sorted([*SEEDED_SCOPES, "orders:read"])


def test_a_deleted_scope_is_no_longer_advertised(client, metadata):
    Scope.objects.get(name="banking:write").delete()
    scopes = client.get(METADATA_URL).json()["scopes_supported"]
    assert scopes == [scope for scope in SEEDED_SCOPES if scope != "banking:write"]


def test_grant_types_are_exactly_the_four_supported(metadata):
    assert sorted(metadata["grant_types_supported"]) == [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    assert "password" not in metadata["grant_types_supported"]
    assert "implicit" not in metadata["grant_types_supported"]


def test_response_types_are_code_only(metadata):
    assert metadata["response_types_supported"] == ["code"]


def test_pkce_is_s256_only(metadata):
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_token_endpoint_auth_methods_include_basic_and_post(metadata):
    methods = metadata["token_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in methods
    assert "client_secret_post" in methods
    assert "client_secret_jwt" not in methods
    assert "private_key_jwt" not in methods


def test_introspection_needs_a_client_secret(metadata):
    methods = metadata["introspection_endpoint_auth_methods_supported"]
    assert sorted(methods) == ["client_secret_basic", "client_secret_post"]


def test_public_browser_apps_revoke_with_their_client_id(metadata):
    # RFC 7009 §2.1: a public client revokes its own tokens (tests/tokensvc/test_introspection_revocation.py).
    methods = metadata["revocation_endpoint_auth_methods_supported"]
    assert sorted(methods) == ["client_secret_basic", "client_secret_post", "none"]


def test_issuer_in_authorization_responses_is_advertised(metadata):
    assert metadata["authorization_response_iss_parameter_supported"] is True


def test_metadata_is_get_only(client):
    assert client.post(METADATA_URL).status_code == 405


def test_metadata_is_readable_cross_origin(client):
    response = client.get(METADATA_URL)
    assert response["Access-Control-Allow-Origin"] == "*"
