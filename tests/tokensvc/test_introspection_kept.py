"""A resource server's next introspections come from the rows kept at its first
(accounts.verified_clients): one statement checks them and reads the token, the limits are read
before any secret is compared, and any change to what it was verified on decides the very next
request from the database."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import authentication, verified_clients
from accounts.models import ApiKey, AuditEvent, Client, Provider
from accounts.services import client_secret_rotate
from accounts.throttling import authentication_slot
from tests.tokensvc.oauth_helpers import INTROSPECT_URL, basic, client_credentials_token, post_form
from tests.tokensvc.test_verified_clients import last_used_an_hour_ago
from tokensvc import client_authentication, resource_server

pytestmark = pytest.mark.django_db


def introspect(client, server, token: str, *, secret: str | None = None):
    return post_form(
        client,
        INTROSPECT_URL,
        {"token": token},
        HTTP_AUTHORIZATION=basic(server.client.client_id, secret or server.client_secret),
        HTTP_X_API_KEY=server.api_key,
    )


@pytest.fixture
def server(client, make_client, admin_token):
    """A resource server after its first introspection: verified and kept by this process."""
    issued = make_client("viewer", name="orders service", is_resource_server=True)
    assert introspect(client, issued, admin_token).json()["active"] is True
    assert verified_clients.client_recall(issued.client.client_id, issued.api_key) is not None
    return issued


@pytest.fixture
def admin_token(client, make_client) -> str:
    return client_credentials_token(client, make_client("admin", name="back office"))["access_token"]


def reasons(server) -> list[str]:
    refused = AuditEvent.objects.filter(
        client_identifier=server.client.client_id, action=AuditEvent.Action.INTROSPECTION_REFUSED
    )
    return sorted(event.reason for event in refused)


@pytest.fixture
def slots(monkeypatch) -> list[dict]:
    """Every brute-force slot taken from here on (the database path's, not the kept rows')."""
    taken = []

    def counted(**where):
        taken.append(where)
        return authentication_slot(**where)

    monkeypatch.setattr(resource_server, "authentication_slot", counted)
    monkeypatch.setattr(client_authentication, "authentication_slot", counted)
    return taken


def test_the_next_introspection_is_one_statement_with_the_same_answer(client, server, admin_token, slots):
    first = introspect(client, server, admin_token).json()
    with CaptureQueriesContext(connection) as captured:
        second = introspect(client, server, admin_token)
    assert second.status_code == 200
    assert second.json() == first
    statements = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("INSERT")]
    assert len(statements) == 1, statements
    assert "AS unchanged" in statements[0]  # the kept rows' check, not the server's lookup
    assert slots == []
    # An unknown token reads as inactive from the same statement.
    assert introspect(client, server, "no-such-token").json() == {"active": False}


CHANGES = {
    "deleted": lambda c: Client.objects.filter(pk=c.pk).delete(),
    "now an external provider's": lambda c: Client.objects.filter(pk=c.pk).update(
        provider=Provider.objects.create(name="Keycloak", kind=Provider.Kind.KEYCLOAK)
    ),
    "API key deleted": lambda c: ApiKey.objects.filter(client=c).delete(),
    "no longer a resource server": lambda c: Client.objects.filter(pk=c.pk).update(is_resource_server=False),
    "disabled": lambda c: Client.objects.filter(pk=c.pk).update(is_active=False),
    "API key revoked": lambda c: ApiKey.objects.filter(client=c).update(revoked_at=timezone.now()),
    "API key expired": lambda c: ApiKey.objects.filter(client=c).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    ),
}
REASONS = {
    "deleted": "unknown client_id",
    "now an external provider's": "the client belongs to an external provider",
    "API key deleted": "API key unknown or of another client",
    "no longer a resource server": "client is not a resource server",
    "disabled": "client disabled",
    "API key revoked": "API key revoked",
    "API key expired": "API key expired",
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_refuses_the_very_next_introspection_from_the_database(client, server, admin_token, change):
    CHANGES[change](server.client)
    refused = introspect(client, server, admin_token)
    assert refused.status_code == 401
    assert set(refused.json()) == {"error", "error_description"}
    assert reasons(server) == [REASONS[change]]
    # Answered from the database: the kept rows are gone, the next request reads again.
    assert verified_clients.client_recall(server.client.client_id, server.api_key) is None


def test_a_rotated_secret_works_at_once_and_the_old_one_is_refused(client, server, admin_token):
    new_secret = client_secret_rotate(client=server.client)
    assert introspect(client, server, admin_token).status_code == 401
    assert introspect(client, server, admin_token, secret=new_secret).json()["active"] is True


def test_a_wrong_secret_is_decided_from_the_database_and_counted(client, server, admin_token, settings):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 3
    for _ in range(3):
        assert introspect(client, server, admin_token, secret="wrong").status_code == 401
    assert reasons(server) == ["wrong client secret"] * 3
    assert introspect(client, server, admin_token).status_code == 429
    # Still kept: the limit refused the request, not the rows.
    assert verified_clients.client_recall(server.client.client_id, server.api_key) is not None


def test_a_limited_server_is_refused_before_any_secret_is_checked(
    client, server, admin_token, settings, monkeypatch, slots
):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 2
    for _ in range(2):
        assert introspect(client, server, admin_token, secret="wrong").status_code == 401
    assert len(slots) == 2  # one per wrong secret
    compared = []
    monkeypatch.setattr(
        authentication, "secret_matches", lambda secret, encoded: compared.append(secret) or False
    )
    for secret in (server.client_secret, "wrong"):
        with CaptureQueriesContext(connection) as captured:
            limited = introspect(client, server, admin_token, secret=secret)
        assert limited.status_code == 429
        assert set(limited.json()) == {"error", "error_description"}
        assert [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("INSERT")] == []
    assert compared == []
    assert len(slots) == 2  # refused by reading the counters: no slot asked for


def test_a_use_from_the_kept_rows_is_recorded_to_the_minute(client, server, admin_token):
    long_ago = last_used_an_hour_ago(verified_clients.client_recall(server.client.client_id, server.api_key))
    assert introspect(client, server, admin_token).status_code == 200
    assert Client.objects.get(pk=server.client.pk).last_used_at > long_ago
    assert ApiKey.objects.get(client=server.client).last_used_at > long_ago
