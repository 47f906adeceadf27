"""The external-provider harness itself, over real HTTP: oidc-provider as configured by conftest."""

import base64
import json

import pytest
import requests
from jwcrypto import jwk, jwt

from tests.providers.conftest import JWT_AUDIENCE, OPAQUE_AUDIENCE
from tests.providers.oidc_server import OidcProvider


def b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def served_jwks(provider: OidcProvider) -> dict:
    response = requests.get(provider.discovery()["jwks_uri"], timeout=10)
    assert response.status_code == 200
    return response.json()


def access_token(provider: OidcProvider, client_id: str, **params) -> str:
    response = provider.token(client_id, provider.secrets[client_id], **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return body["access_token"]


def test_discovery_names_the_endpoints_and_the_issuer(oidc_provider):
    document = oidc_provider.discovery()
    issuer = oidc_provider.issuer
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/token"
    assert document["jwks_uri"] == f"{issuer}/jwks"
    assert document["introspection_endpoint"] == f"{issuer}/token/introspection"
    assert "client_credentials" in document["grant_types_supported"]
    assert "profile:read" in document["scopes_supported"]


@pytest.mark.parametrize(
    ("client_id", "roles"), [("ext-manager", ["manager"]), ("ext-sales", ["salesperson"])]
)
def test_jwt_resource_gives_a_signed_at_jwt_with_the_clients_roles(oidc_provider, client_id, roles):
    token = access_token(oidc_provider, client_id, scope="profile:read banking:read")
    header = b64json(token.split(".")[0])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    jwks = served_jwks(oidc_provider)
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert header["kid"] in oidc_provider.kids

    verified = jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(json.dumps(jwks)), expected_type="JWS")
    claims = json.loads(verified.claims)
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == JWT_AUDIENCE
    assert claims["client_id"] == claims["sub"] == client_id
    assert claims["scope"] == "profile:read banking:read"
    assert claims["roles"] == roles
    assert claims["exp"] - claims["iat"] == 600


def test_opaque_resource_gives_a_token_that_introspection_reports_active(oidc_provider):
    token = access_token(oidc_provider, "ext-manager", scope="address:read", resource=OPAQUE_AUDIENCE)
    assert "." not in token

    response = oidc_provider.introspect(token, "ext-introspector", oidc_provider.secrets["ext-introspector"])
    assert response.status_code == 200
    answer = response.json()
    assert answer["active"] is True
    assert answer["client_id"] == "ext-manager"
    assert answer["scope"] == "address:read"
    assert answer["aud"] == OPAQUE_AUDIENCE
    assert answer["iss"] == oidc_provider.issuer
    assert answer["roles"] == ["manager"]

    unknown = oidc_provider.introspect(
        "x" * 43, "ext-introspector", oidc_provider.secrets["ext-introspector"]
    )
    assert unknown.json() == {"active": False}


def test_introspection_needs_client_authentication_and_refuses_jwts(oidc_provider):
    opaque = access_token(oidc_provider, "ext-sales", scope="profile:read", resource=OPAQUE_AUDIENCE)
    assert oidc_provider.introspect(opaque, "ext-introspector", "wrong").status_code == 401

    structured = access_token(oidc_provider, "ext-sales", scope="profile:read")
    refused = oidc_provider.introspect(
        structured, "ext-introspector", oidc_provider.secrets["ext-introspector"]
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "unsupported_token_type"


def test_wrong_secret_is_invalid_client(oidc_provider):
    response = oidc_provider.token("ext-manager", "not-the-secret", scope="profile:read")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_rotate_keys_serves_only_the_new_key_on_the_same_issuer(oidc_provider):
    issuer = oidc_provider.issuer
    old_kid = b64json(access_token(oidc_provider, "ext-manager").split(".")[0])["kid"]

    new_kids = oidc_provider.rotate_keys()

    assert oidc_provider.issuer == issuer
    assert old_kid not in new_kids
    assert [key["kid"] for key in served_jwks(oidc_provider)["keys"]] == new_kids
    assert served_jwks(oidc_provider) == oidc_provider.jwks_public()
    new_kid = b64json(access_token(oidc_provider, "ext-manager").split(".")[0])["kid"]
    assert new_kid in new_kids
    assert {key["kid"] for key in oidc_provider.private_jwks()["keys"]} == set(new_kids)


def test_down_refuses_connections_and_up_serves_again(oidc_provider):
    oidc_provider.down()
    with pytest.raises(requests.ConnectionError):
        oidc_provider.token("ext-manager", oidc_provider.secrets["ext-manager"])
    oidc_provider.up()
    access_token(oidc_provider, "ext-manager", scope="profile:read")


def test_config_es256_client_secret_post_allowed_scopes_and_unknown_resource(make_oidc_provider):
    """A non-default config: the options of node/server.mjs do what they say."""
    provider = make_oidc_provider(
        clients=[
            {
                "client_id": "narrow",
                "token_endpoint_auth_method": "client_secret_post",
                "scope": "profile:read",
                "extra_claims": {"roles": ["viewer"], "tenant": "t1"},
            }
        ],
        resources=[
            {"audience": "https://es.tokensvc.test/", "scope": "profile:read banking:read", "alg": "ES256"}
        ],
    )
    secret = provider.secrets["narrow"]
    assert provider.jwks_public()["keys"][0]["kty"] == "EC"

    token = provider.token("narrow", secret, scope="profile:read", method="post")
    assert token.status_code == 200, token.text
    header, payload, _ = token.json()["access_token"].split(".")
    assert b64json(header)["alg"] == "ES256"
    assert b64json(header)["kid"] == provider.kids[0]
    claims = b64json(payload)
    assert claims["aud"] == "https://es.tokensvc.test/"
    assert (claims["roles"], claims["tenant"]) == (["viewer"], "t1")

    # oidc-provider takes either secret method, whichever the client registered.
    assert provider.token("narrow", secret, scope="profile:read", method="basic").status_code == 200
    outside = provider.token("narrow", secret, scope="profile:read banking:read", method="post")
    assert outside.status_code == 400
    assert outside.json()["error"] == "invalid_scope"
    # A scope no resource or client names is dropped, not refused.
    unknown = provider.token("narrow", secret, scope="profile:read nonsense", method="post")
    assert unknown.json()["scope"] == "profile:read"
    elsewhere = provider.token("narrow", secret, resource="https://other.test/", method="post")
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == "invalid_target"
