"""A resource server's next introspections come from the rows kept at its first
(accounts.verified_clients): one statement checks them and reads the token, the limits are read
before any secret is compared, and any change to what it was verified on decides the very next
request from the database. The answer for a token's row is kept too (tokensvc.introspection):
given again for the same row, never past the token's expiry."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import authentication, verified_clients
from accounts.models import ApiKey, AuditEvent, Client, Provider, Role
from accounts.services import client_secret_rotate
from accounts.throttling import authentication_slot
from claims.models import Scope
from tests.tokensvc.oauth_helpers import INTROSPECT_URL, basic, client_credentials_token, post_form
from tests.tokensvc.test_verified_clients import last_used_an_hour_ago
from tokensvc import client_authentication, introspection, resource_server
from tokensvc.selectors import AccessToken, token_checksum

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


# ------------------------------------------------------------------ kept answers


@pytest.fixture
def unworkable(server, monkeypatch):
    """After the server's first introspection, no answer can be worked out: only a kept one can
    be given."""

    def refuse(*args, **kwargs):
        raise AssertionError("the answer was worked out again")

    monkeypatch.setattr(introspection, "bearer_token_grant", refuse)


def test_the_same_row_is_answered_again_without_working_it_out(client, server, admin_token, monkeypatch):
    first = introspect(client, server, admin_token).json()
    assert first["active"] is True
    grants = []
    original = introspection.bearer_token_grant
    monkeypatch.setattr(
        introspection, "bearer_token_grant", lambda token: grants.append(token) or original(token)
    )
    assert introspect(client, server, admin_token).json() == first
    assert grants == []


def test_a_kept_answer_ends_with_the_token(client, server, admin_token, monkeypatch, unworkable):
    expires = AccessToken.objects.get().expires
    monkeypatch.setattr(timezone, "now", lambda: expires)
    assert introspect(client, server, admin_token).json() == {"active": False}
    monkeypatch.setattr(timezone, "now", lambda: expires - timedelta(seconds=1))
    assert introspect(client, server, admin_token).json()["active"] is True


def test_a_policy_change_is_seen_by_the_next_introspection(client, server, admin_token):
    assert "banking" in introspect(client, server, admin_token).json()["granted_claims"]
    Role.objects.get(name="admin").scopes.remove(Scope.objects.get(name="banking:read"))
    answer = introspect(client, server, admin_token).json()
    assert "banking:read" not in answer["scope"].split()
    assert "banking" not in answer["granted_claims"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: AccessToken.objects.all().delete(), id="revoked"),
        pytest.param(
            lambda: Client.objects.filter(name="back office").update(is_active=False), id="client disabled"
        ),
    ],
)
def test_a_token_revoked_or_disabled_after_a_kept_answer_is_inactive(client, server, admin_token, change):
    assert introspect(client, server, admin_token).json()["active"] is True
    change()
    assert introspect(client, server, admin_token).json() == {"active": False}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: AccessToken.objects.update(scope="profile:read"), id="token narrowed"),
        pytest.param(
            lambda: Client.objects.filter(name="back office").update(role=Role.objects.get(name="viewer")),
            id="client's role changed",
        ),
    ],
)
def test_a_token_whose_row_changed_after_a_kept_answer_gets_a_new_one(client, server, admin_token, change):
    before = introspect(client, server, admin_token).json()
    change()
    after = introspect(client, server, admin_token).json()
    assert after["scope"] != before["scope"]
    introspection.answers_forget_all()
    assert introspect(client, server, admin_token).json() == after  # as worked out afresh


def test_kept_answers_are_bounded_the_oldest_making_room(client, server, make_client, monkeypatch):
    monkeypatch.setattr(introspection._answers, "limit", 2)
    admin = make_client("admin", name="another back office")
    tokens = [client_credentials_token(client, admin)["access_token"] for _ in range(3)]
    for token in tokens:
        assert introspect(client, server, token).json()["active"] is True
    kept_ids = [row[0] for row in introspection._answers.oldest_first()]  # a token row starts with its id
    assert kept_ids == [AccessToken.objects.get(token_checksum=token_checksum(t)).pk for t in tokens[1:]]
