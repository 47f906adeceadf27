"""Fixtures for tests against a real external OAuth2 provider (oidc-provider, see oidc_server.py)."""

import os

import pytest

from tests.providers.oidc_server import OidcProvider, node_available

SCOPES = "profile:read address:read banking:read profile:write address:write banking:write"
JWT_AUDIENCE = "https://api.tokensvc.test/"
OPAQUE_AUDIENCE = "https://opaque.tokensvc.test/"

DEFAULT_RESOURCES = [
    {"audience": JWT_AUDIENCE, "scope": SCOPES, "format": "jwt", "alg": "RS256", "access_token_ttl": 600},
    {"audience": OPAQUE_AUDIENCE, "scope": SCOPES, "format": "opaque", "access_token_ttl": 600},
]
DEFAULT_CLIENTS = [
    {"client_id": "ext-manager", "extra_claims": {"roles": ["manager"]}},
    {"client_id": "ext-sales", "extra_claims": {"roles": ["salesperson"]}},
    {"client_id": "ext-introspector"},
]


@pytest.fixture
def make_oidc_provider():
    """Start providers with their own clients and resources; all are stopped after the test.
    Skipped without node and `npm ci` in tests/providers/node, except in CI (where `make test`
    installs them), which fails instead."""
    if not node_available():
        message = "needs node and `npm ci` in tests/providers/node (`make test` runs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    started: list[OidcProvider] = []

    def make(clients=DEFAULT_CLIENTS, resources=DEFAULT_RESOURCES, port=None) -> OidcProvider:
        provider = OidcProvider(clients=clients, resources=resources, port=port)
        started.append(provider)
        return provider.start()

    yield make
    for provider in started:
        provider.close()


@pytest.fixture
def oidc_provider(make_oidc_provider) -> OidcProvider:
    """A fresh provider per test with the default resources (JWT_AUDIENCE: RS256 JWTs,
    OPAQUE_AUDIENCE: opaque tokens) and clients ext-manager, ext-sales, ext-introspector (random
    secrets in `oidc_provider.secrets`). Function scope: tests rotate its keys or take it down, its
    opaque tokens live in its memory, and a start costs about 0.3 s."""
    return make_oidc_provider()


@pytest.fixture
def provider_row(db, oidc_provider):
    """`oidc_provider` registered here as an external provider (metadata read from it), with
    ext-manager bound as a manager client and ext-sales as a salesperson client, each with an
    API key of ours: `provider_row.api_keys[client_id]`."""
    from accounts.models import Provider, Role
    from accounts.services import external_client_create
    from tokensvc.providers.discovery import metadata_fetch
    from tokensvc.providers.jwks import forget_keys
    from tokensvc.providers.secret_box import seal

    forget_keys()
    metadata = metadata_fetch(oidc_provider.issuer)
    provider = Provider.objects.create(
        name="corp",
        kind=Provider.Kind.CUSTOM,
        issuer=oidc_provider.issuer,
        audience=JWT_AUDIENCE,
        audience_parameter=Provider.AudienceParameter.RESOURCE,
        algorithms="RS256 ES256",
        token_endpoint=metadata.token_endpoint,
        jwks_uri=metadata.jwks_uri,
        introspection_endpoint=metadata.introspection_endpoint,
        token_endpoint_auth_methods=metadata.token_endpoint_auth_methods,
        introspection_client_id="ext-introspector",
        introspection_secret_encrypted=seal(oidc_provider.secrets["ext-introspector"]),
    )
    provider.api_keys = {}
    for client_id, role in (("ext-manager", "manager"), ("ext-sales", "salesperson")):
        issued = external_client_create(
            name=client_id, role=Role.objects.get(name=role), provider=provider, client_id=client_id
        )
        provider.api_keys[client_id] = issued.api_key
    yield provider
    forget_keys()
