"""An external provider (a real oidc-provider on a loopback port) behind our token endpoint and API.

Our service is driven over HTTP with Django's test client; it calls the provider over real HTTP.
"""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time

import jwt
import pytest

from accounts.models import AuditEvent, Client, ForwardedToken, Provider, ProviderRoleMapping, Role
from accounts.services import client_create, client_tokens_revoke
from tests.providers.conftest import JWT_AUDIENCE, OPAQUE_AUDIENCE
from tokensvc.providers import jwks as jwks_module

FORM = "application/x-www-form-urlencoded"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MANAGER_CLAIMS = {
    "address": ["city", "country", "postal_code", "street"],
    "profile": ["age", "email", "name"],
}
SALES_CLAIMS = {"profile": ["age", "email", "name"]}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_request(client, client_id, secret, api_key, **params):
    from urllib.parse import urlencode

    return client.post(
        "/oauth/token/",
        urlencode({"grant_type": "client_credentials", **params}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(client_id, secret),
        HTTP_X_API_KEY=api_key or "",
    )


def api_get(client, token, path="/api/v1/customers/"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def claims_seen(response) -> dict[str, set[str]]:
    record = response.json()["results"][0]
    return {category: set(values) for category, values in record.items() if category != "id"}


def provider_token(oidc_provider, client_id="ext-manager", **params) -> str:
    response = oidc_provider.token(client_id, oidc_provider.secrets[client_id], **params)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-pk").first()


# ------------------------------------------------------------------ token endpoint, forwarded


def test_token_through_the_provider_carries_our_scope_and_claims(
    client, oidc_provider, provider_row, customer
):
    response = token_request(
        client, "ext-manager", oidc_provider.secrets["ext-manager"], provider_row.api_keys["ext-manager"]
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "granted_claims"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "address:read profile:read"
    assert body["granted_claims"] == MANAGER_CLAIMS
    assert 0 < body["expires_in"] <= 600
    assert response["Cache-Control"] == "no-store"
    # The provider's own token (a JWT it signed), not one of ours.
    assert jwt.get_unverified_header(body["access_token"])["kid"] in oidc_provider.kids
    event = last_event()
    assert (event.action, event.provider_id, event.client.client_id) == (
        AuditEvent.Action.TOKEN_ISSUED,
        provider_row.pk,
        "ext-manager",
    )

    read = api_get(client, body["access_token"])
    assert read.status_code == 200, read.content
    assert claims_seen(read) == {
        "profile": {"name", "email", "age"},
        "address": {"street", "city", "postal_code", "country"},
    }


def test_a_narrower_scope_asked_here_holds_at_the_api(client, oidc_provider, provider_row, customer):
    response = token_request(
        client,
        "ext-manager",
        oidc_provider.secrets["ext-manager"],
        provider_row.api_keys["ext-manager"],
        scope="profile:read",
    )
    assert response.status_code == 200, response.content
    assert response.json()["granted_claims"] == SALES_CLAIMS
    assert claims_seen(api_get(client, response.json()["access_token"])) == {
        "profile": {"name", "email", "age"}
    }


def test_a_scope_outside_the_role_is_invalid_scope(client, oidc_provider, provider_row):
    response = token_request(
        client,
        "ext-sales",
        oidc_provider.secrets["ext-sales"],
        provider_row.api_keys["ext-sales"],
        scope="banking:read",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_the_provider_refusing_the_secret_is_our_invalid_client(client, oidc_provider, provider_row):
    local = client_create(name="local", role=Role.objects.get(name="manager"))
    ours = token_request(client, local.client.client_id, "wrong", local.api_key)
    theirs = token_request(client, "ext-manager", "wrong-secret", provider_row.api_keys["ext-manager"])
    assert theirs.status_code == ours.status_code == 401
    assert (
        theirs.json()
        == ours.json()
        == {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        }
    )
    assert theirs["WWW-Authenticate"] == ours["WWW-Authenticate"]
    assert last_event().action == AuditEvent.Action.PROVIDER_REFUSED


def test_a_wrong_api_key_is_refused_before_the_provider_is_asked(client, oidc_provider, provider_row):
    oidc_provider.down()  # a forwarded request would now be a 503, not a 401
    response = token_request(client, "ext-manager", oidc_provider.secrets["ext-manager"], "not-a-key")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_disabled_client_gets_nothing(client, oidc_provider, provider_row):
    Client.objects.filter(client_id="ext-manager").update(is_active=False)
    response = token_request(
        client, "ext-manager", oidc_provider.secrets["ext-manager"], provider_row.api_keys["ext-manager"]
    )
    assert response.status_code == 401


def test_the_provider_down_is_a_quick_503(client, oidc_provider, provider_row):
    oidc_provider.down()
    started = time.monotonic()
    response = token_request(
        client, "ext-manager", oidc_provider.secrets["ext-manager"], provider_row.api_keys["ext-manager"]
    )
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The client's credential provider cannot be reached; retry later.",
    }
    assert last_event().action == AuditEvent.Action.PROVIDER_UNAVAILABLE
    provider_row.refresh_from_db()
    assert provider_row.last_error
    assert provider_row.last_error_at


class SilentServer:
    """A TCP server that accepts and then says nothing (or garbage): a hung or broken provider."""

    def __init__(self, answer: bytes | None = None):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.answer = answer
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(connection)
            if self.answer is not None:
                connection.recv(65536)
                connection.sendall(self.answer)
                connection.close()

    def close(self):
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.mark.parametrize(
    "answer",
    [
        None,  # hangs
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\nnot json!",
        b'HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n{"access_token": 42}',
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["hangs", "not-json", "malformed-token", "500", "redirect"],
)
def test_a_slow_or_broken_provider_is_a_bounded_503(client, settings, oidc_provider, provider_row, answer):
    settings.PROVIDER_TIMEOUT_SECONDS = 1
    server = SilentServer(answer)
    try:
        Provider.objects.filter(pk=provider_row.pk).update(
            token_endpoint=f"http://127.0.0.1:{server.port}/token"
        )
        # update() moves no revision; the save below does, so the registry sees the endpoint.
        Provider.objects.get(pk=provider_row.pk).save()
        started = time.monotonic()
        response = token_request(
            client, "ext-manager", oidc_provider.secrets["ext-manager"], provider_row.api_keys["ext-manager"]
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert elapsed < 3


# ------------------------------------------------------------------ the API with external tokens


@pytest.mark.parametrize(
    ("client_id", "expected"),
    [
        (
            "ext-manager",
            {"profile": {"name", "email", "age"}, "address": {"street", "city", "postal_code", "country"}},
        ),
        ("ext-sales", {"profile": {"name", "email", "age"}}),
    ],
)
def test_the_api_accepts_the_providers_jwt_with_the_roles_claims(
    client, oidc_provider, provider_row, customer, client_id, expected
):
    token = provider_token(oidc_provider, client_id)
    response = api_get(client, token)
    assert response.status_code == 200, response.content
    assert claims_seen(response) == expected


def test_a_policy_change_applies_to_external_tokens_at_once(client, oidc_provider, provider_row, customer):
    token = provider_token(oidc_provider, "ext-manager")
    manager = Role.objects.get(name="manager")
    manager.scopes.remove(manager.scopes.get(name="address:read"))
    assert claims_seen(api_get(client, token)) == {"profile": {"name", "email", "age"}}


def test_the_role_mapping_of_the_provider_decides_when_the_token_carries_it(
    client, oidc_provider, provider_row, customer
):
    # ext-sales is registered as a salesperson, but its tokens say roles=["salesperson"]; map that
    # value to admin and the token reads banking too.
    provider_row.role_claim = "roles"
    provider_row.save()
    ProviderRoleMapping.objects.create(
        provider=provider_row, value="salesperson", role=Role.objects.get(name="admin")
    )
    seen = claims_seen(api_get(client, provider_token(oidc_provider, "ext-sales")))
    assert "banking" in seen


def test_a_token_of_an_unregistered_client_is_refused(client, oidc_provider, provider_row, customer):
    token = provider_token(oidc_provider, "ext-introspector")  # known to the provider, not to us
    response = api_get(client, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_an_opaque_token_is_checked_by_introspection(client, oidc_provider, provider_row, customer):
    provider_row.validation = Provider.Validation.INTROSPECTION
    provider_row.audience = OPAQUE_AUDIENCE
    provider_row.save()
    token = provider_token(oidc_provider, "ext-sales", resource=OPAQUE_AUDIENCE)
    assert token.count(".") == 0
    response = api_get(client, token)
    assert response.status_code == 200, response.content
    assert claims_seen(response) == {"profile": {"name", "email", "age"}}
    assert api_get(client, "made-up-opaque-token").status_code == 401


def test_revoking_a_clients_tokens_here_stops_its_forwarded_tokens(
    client, oidc_provider, provider_row, customer
):
    response = token_request(
        client, "ext-manager", oidc_provider.secrets["ext-manager"], provider_row.api_keys["ext-manager"]
    )
    token = response.json()["access_token"]
    assert api_get(client, token).status_code == 200
    client_tokens_revoke(client=Client.objects.get(client_id="ext-manager"))
    assert ForwardedToken.objects.get().revoked is not None
    assert api_get(client, token).status_code == 401


# ------------------------------------------------------------------ forged and foreign tokens


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(oidc_provider, **overrides) -> dict:
    now = int(time.time())
    return {
        "iss": oidc_provider.issuer,
        "aud": JWT_AUDIENCE,
        "client_id": "ext-manager",
        "sub": "ext-manager",
        "iat": now,
        "exp": now + 300,
        **overrides,
    }


def signed(oidc_provider, payload: dict, **header) -> str:
    key = oidc_provider.key("RS256")
    pem = key.export_to_pem(private_key=True, password=None)
    return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": key["kid"], "typ": "at+jwt", **header})


def test_a_token_signed_with_the_providers_key_is_accepted(client, oidc_provider, provider_row, customer):
    # The baseline for the forgeries below: the same construction, unaltered, passes.
    assert api_get(client, signed(oidc_provider, claims_for(oidc_provider))).status_code == 200


def forgeries(oidc_provider) -> dict[str, str]:
    good = signed(oidc_provider, claims_for(oidc_provider))
    header, payload, signature = good.split(".")
    tampered_payload = b64(
        json.dumps(claims_for(oidc_provider, client_id="ext-sales", roles=["admin"])).encode()
    )
    public_pem = oidc_provider.key("RS256").export_to_pem()
    hs_header = b64(
        json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": oidc_provider.key("RS256")["kid"]}).encode()
    )
    hs_signing_input = f"{hs_header}.{payload}".encode()
    none_header = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    other_key = jwt.encode(
        claims_for(oidc_provider),
        _other_rsa_pem(),
        algorithm="RS256",
        headers={"kid": oidc_provider.key("RS256")["kid"]},
    )
    return {
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "signed by another key": other_key,
        "another issuer": signed(oidc_provider, claims_for(oidc_provider, iss="https://evil.example/")),
        "wrong audience": signed(oidc_provider, claims_for(oidc_provider, aud="https://other-api.example/")),
        "expired": signed(oidc_provider, claims_for(oidc_provider, exp=int(time.time()) - 120)),
        "not yet valid": signed(oidc_provider, claims_for(oidc_provider, nbf=int(time.time()) + 600)),
        "no expiry": signed(
            oidc_provider, {k: v for k, v in claims_for(oidc_provider).items() if k != "exp"}
        ),
        "alg none": f"{none_header}.{payload}.",
        "HS256 with the public key": f"{hs_header}.{payload}."
        + b64(hmac.new(public_pem, hs_signing_input, hashlib.sha256).digest()),
        "id token type": signed(oidc_provider, claims_for(oidc_provider), typ="logout+jwt"),
    }


def _other_rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_forged_and_foreign_tokens_are_invalid_token(client, oidc_provider, provider_row, customer):
    for name, token in forgeries(oidc_provider).items():
        response = api_get(client, token)
        assert response.status_code == 401, name
        assert response.json()["error"] == "invalid_token", name
        assert 'error="invalid_token"' in response["WWW-Authenticate"], name


def test_an_inactive_provider_s_tokens_are_refused(client, oidc_provider, provider_row, customer):
    token = provider_token(oidc_provider, "ext-manager")
    provider_row.is_active = False
    provider_row.save()
    assert api_get(client, token).status_code == 401


# ------------------------------------------------------------------ keys


def test_key_rotation_at_the_provider_is_picked_up_without_a_restart(
    client, settings, oidc_provider, provider_row, customer
):
    settings.PROVIDER_JWKS_MIN_REFRESH_SECONDS = 1
    assert api_get(client, provider_token(oidc_provider)).status_code == 200
    old_kids = set(oidc_provider.kids)
    oidc_provider.rotate_keys()
    assert not old_kids & set(oidc_provider.kids)
    time.sleep(1)
    response = api_get(client, provider_token(oidc_provider))
    assert response.status_code == 200, response.content
    provider_row.refresh_from_db()
    assert set(provider_row.jwks_key_ids) == set(oidc_provider.kids)


def test_made_up_key_ids_cannot_hammer_the_provider(
    client, settings, oidc_provider, provider_row, customer, monkeypatch
):
    settings.PROVIDER_JWKS_MIN_REFRESH_SECONDS = 60
    assert api_get(client, provider_token(oidc_provider)).status_code == 200  # keys fetched
    # As if that fetch were long ago: the first unknown kid may refresh the keys, no later one.
    jwks_module._sets[provider_row.pk].attempted_at -= 120
    fetches = []
    real = jwks_module._download
    monkeypatch.setattr(jwks_module, "_download", lambda uri: fetches.append(uri) or real(uri))
    for n in range(50):
        token = signed(oidc_provider, claims_for(oidc_provider), kid=f"bogus-{n}")
        assert api_get(client, token).status_code == 401
    assert len(fetches) == 1
    # Tokens with the real key id are still served from the keys held.
    assert api_get(client, provider_token(oidc_provider)).status_code == 200


# ------------------------------------------------------------------ token exchange (RFC 8693)


@pytest.fixture
def exchanger(db):
    issued = client_create(name="portal", role=Role.objects.get(name="salesperson"))
    Client.objects.filter(pk=issued.client.pk).update(may_exchange_tokens=True)
    return issued


def exchange(client, exchanger, subject_token, **params):
    from urllib.parse import urlencode

    return client.post(
        "/oauth/token/",
        urlencode(
            {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": subject_token,
                "subject_token_type": ACCESS_TOKEN_TYPE,
                **params,
            }
        ),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(exchanger.client.client_id, exchanger.client_secret),
        HTTP_X_API_KEY=exchanger.api_key,
    )


def test_token_exchange_gives_our_token_for_the_mapped_role(
    client, oidc_provider, provider_row, exchanger, customer
):
    provider_row.role_claim = "roles"
    provider_row.save()
    ProviderRoleMapping.objects.create(
        provider=provider_row, value="manager", role=Role.objects.get(name="manager")
    )
    response = exchange(client, exchanger, provider_token(oidc_provider, "ext-manager"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "address:read profile:read"
    assert body["granted_claims"] == MANAGER_CLAIMS
    assert body["access_token"].count(".") == 0  # ours, opaque
    assert claims_seen(api_get(client, body["access_token"])) == {
        "profile": {"name", "email", "age"},
        "address": {"street", "city", "postal_code", "country"},
    }
    event = last_event()
    assert (event.action, event.provider_id) == (AuditEvent.Action.TOKEN_EXCHANGED, provider_row.pk)
    assert event.user.username == "corp:ext-manager"


def test_token_exchange_refusals(client, oidc_provider, provider_row, exchanger):
    good = provider_token(oidc_provider, "ext-manager")
    forged = signed(oidc_provider, claims_for(oidc_provider, aud="https://other-api.example/"))
    assert exchange(client, exchanger, forged).json()["error"] == "invalid_grant"
    assert exchange(client, exchanger, "not-a-token").json()["error"] == "invalid_grant"
    assert exchange(client, exchanger, good, subject_token_type="urn:x").json()["error"] == "invalid_request"
    assert (
        exchange(client, exchanger, good, actor_token="x", actor_token_type=ACCESS_TOKEN_TYPE).status_code
        == 400
    )
    assert exchange(client, exchanger, good, scope="banking:read").json()["error"] == "invalid_scope"

    Client.objects.filter(pk=exchanger.client.pk).update(may_exchange_tokens=False)
    assert exchange(client, exchanger, good).json()["error"] == "unauthorized_client"


def test_the_api_answers_503_when_the_keys_cannot_be_fetched(client, oidc_provider, provider_row, customer):
    token = provider_token(oidc_provider)
    oidc_provider.down()
    response = api_get(client, token)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    event = last_event()
    assert (event.action, event.provider_id) == (AuditEvent.Action.PROVIDER_UNAVAILABLE, provider_row.pk)


def test_keys_held_keep_serving_while_the_provider_is_down(client, oidc_provider, provider_row, customer):
    token = provider_token(oidc_provider)
    assert api_get(client, token).status_code == 200
    oidc_provider.down()
    assert api_get(client, token).status_code == 200
