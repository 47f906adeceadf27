"""Widely used OAuth client libraries, driven only by the metadata document, against a live server."""

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from accounts.models import Role
from accounts.services import client_create

# A live server needs committed data; serialized_rollback restores the seeded policy each time.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CLAIMS = {
    "viewer": {"profile": ["email", "name"]},
    "manager": {
        "address": ["city", "country", "postal_code", "street"],
        "profile": ["age", "email", "name"],
    },
}


@pytest.fixture
def metadata(live_server) -> dict:
    return requests.get(f"{live_server.url}/.well-known/oauth-authorization-server", timeout=10).json()


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch):
    # The live server speaks plain HTTP on loopback; oauthlib refuses that unless told.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def integration():
    def make(role: str):
        return client_create(name=f"{role} app", role=Role.objects.get(name=role))

    return make


@pytest.mark.parametrize("role", sorted(CLAIMS))
@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_credentials(metadata, integration, live_server, role, auth_method):
    issued = integration(role)
    assert auth_method in metadata["token_endpoint_auth_methods_supported"]
    session = AuthlibSession(
        issued.client.client_id, issued.client_secret, token_endpoint_auth_method=auth_method
    )
    token = session.fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials", headers={"X-API-Key": issued.api_key}
    )
    assert token["granted_claims"] == CLAIMS[role]
    response = session.get(f"{live_server.url}/api/v1/customers/", timeout=10)
    assert response.status_code == 200


def test_authlib_sees_invalid_client_without_api_key(metadata, integration):
    issued = integration("viewer")
    session = AuthlibSession(issued.client.client_id, issued.client_secret)
    with pytest.raises(Exception, match="invalid_client"):
        session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")


def test_requests_oauthlib_client_credentials(metadata, integration, live_server):
    issued = integration("manager")
    session = OAuth2Session(client=BackendApplicationClient(client_id=issued.client.client_id))
    token = session.fetch_token(
        token_url=metadata["token_endpoint"],
        client_id=issued.client.client_id,
        client_secret=issued.client_secret,
        headers={"X-API-Key": issued.api_key},
    )
    assert token["granted_claims"] == CLAIMS["manager"]
    assert sorted(token["scope"]) == ["address:read", "profile:read"]
    assert session.get(f"{live_server.url}/api/v1/customers/", timeout=10).status_code == 200


def test_requests_oauthlib_revokes_and_introspects(metadata, integration):
    issued = integration("manager")
    gateway = client_create(name="gateway", role=Role.objects.get(name="viewer"), is_resource_server=True)
    session = OAuth2Session(client=BackendApplicationClient(client_id=issued.client.client_id))
    token = session.fetch_token(
        token_url=metadata["token_endpoint"],
        client_id=issued.client.client_id,
        client_secret=issued.client_secret,
        headers={"X-API-Key": issued.api_key},
    )["access_token"]

    def introspect() -> dict:
        return requests.post(
            metadata["introspection_endpoint"],
            data={"token": token},
            auth=(gateway.client.client_id, gateway.client_secret),
            headers={"X-API-Key": gateway.api_key},
            timeout=10,
        ).json()

    assert introspect()["active"] is True
    revoked = requests.post(
        metadata["revocation_endpoint"],
        data={"token": token},
        auth=(issued.client.client_id, issued.client_secret),
        headers={"X-API-Key": issued.api_key},
        timeout=10,
    )
    assert revoked.status_code == 200
    assert introspect() == {"active": False}
