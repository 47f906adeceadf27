"""A client's next tokens come from the rows kept at its first (accounts.verified_clients), and
any change to what it was verified on, however it is written, is seen by the very next request."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts import authentication, verified_clients
from accounts.credentials import keyed_hash
from accounts.models import ApiKey, AuditEvent, Client, Provider, Role
from accounts.services import api_key_issue, client_secret_rotate
from accounts.throttling import authentication_admit, authentication_slot
from claims.models import PolicyRevision, Scope
from tests.tokensvc.test_brute_force import post_token
from tokensvc import client_authentication
from tokensvc.attempts import Attempt
from tokensvc.rows import statements_run_if
from tokensvc.token_store import access_token_statement

AccessToken = get_access_token_model()


def token(client, issued, *, secret=None, api_key=None):
    return post_token(
        client, issued.client.client_id, secret or issued.client_secret, api_key or issued.api_key
    )


def kept(client, issued) -> Client:
    """`issued` after its first token: verified and kept by this process."""
    assert token(client, issued).status_code == 200
    found = verified_clients.client_recall(issued.client.client_id, issued.api_key)
    assert found is not None
    return found


def last_used_an_hour_ago(kept_client: Client) -> datetime:
    """Set the last use of a kept client and of its key an hour back, in the database and in
    the kept rows, so that a use now would be written; that time."""
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Client.objects.filter(pk=kept_client.pk).update(last_used_at=an_hour_ago)
    ApiKey.objects.filter(client_id=kept_client.pk).update(last_used_at=an_hour_ago)
    kept_client.last_used_at = kept_client.key_lookup.key.last_used_at = an_hour_ago
    return an_hour_ago


def events(issued, action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(client_identifier=issued.client.client_id, action=action))


@pytest.mark.django_db
def test_the_next_token_is_issued_from_the_kept_rows_and_audited_once(client, make_client):
    issued = make_client("admin")
    first = token(client, issued).json()
    assert verified_clients.client_recall(issued.client.client_id, issued.api_key) is not None
    with CaptureQueriesContext(connection) as captured:
        second = token(client, issued).json()
    # Not read again: no statement but the token's and its event's INSERTs reads the client.
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert reads == []
    assert second["scope"] == first["scope"]
    assert second["granted_claims"] == first["granted_claims"]
    assert second["access_token"] != first["access_token"]
    assert AccessToken.objects.filter(application=issued.client).count() == 2
    issued_events = events(issued, AuditEvent.Action.TOKEN_ISSUED)
    assert len(issued_events) == 2
    assert {event.granted_scope for event in issued_events} == {first["scope"]}


# Each changes, behind the kept client's back, something it was verified on, the way an
# officer, a command or another process may: by QuerySet.update(), which sends no signal.
def _revoke_key(issued):
    ApiKey.objects.filter(client=issued.client).update(revoked_at=timezone.now())


def _expire_key(issued):
    ApiKey.objects.filter(client=issued.client).update(expires_at=timezone.now() - timedelta(seconds=1))


def _delete_key(issued):
    ApiKey.objects.filter(client=issued.client).delete()


def _disable(issued):
    Client.objects.filter(pk=issued.client.pk).update(is_active=False)


def _make_public(issued):
    Client.objects.filter(pk=issued.client.pk).update(client_type=Client.CLIENT_PUBLIC)


def _other_grant(issued):
    Client.objects.filter(pk=issued.client.pk).update(
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE
    )


def _new_secret_hash(issued):
    Client.objects.filter(pk=issued.client.pk).update(client_secret="keyed_sha256$x$" + "0" * 64)


def _no_key_needed(issued):
    Client.objects.filter(pk=issued.client.pk).update(requires_api_key=False)


def _other_role(issued):
    Client.objects.filter(pk=issued.client.pk).update(role=Role.objects.get(name="viewer"))


def _external_provider(issued):
    provider = Provider.objects.create(
        name="idp", kind=Provider.Kind.KEYCLOAK, issuer="https://idp.example.com/realms/x"
    )
    Client.objects.filter(pk=issued.client.pk).update(provider=provider)


def _rename_client_id(issued):
    Client.objects.filter(pk=issued.client.pk).update(client_id="renamed-" + issued.client.client_id[:20])


def _policy_changed(issued):
    PolicyRevision.objects.update_or_create(id=1, defaults={"tag": 424242})


CHANGES = [
    _revoke_key,
    _expire_key,
    _delete_key,
    _disable,
    _make_public,
    _other_grant,
    _new_secret_hash,
    _no_key_needed,
    _other_role,
    _external_provider,
    _rename_client_id,
    _policy_changed,
]


def _guarded_token_row(kept_client: Client) -> bool:
    row = access_token_statement(
        stored_token="",
        checksum="c" * 64,
        application_id=kept_client.pk,
        user_id=None,
        scope="basic:read",
        expires=timezone.now() + timedelta(hours=1),
    )
    return statements_run_if(verified_clients.unchanged_condition(kept_client), [row])


@pytest.mark.django_db
@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__.strip("_"))
def test_the_kept_rows_write_nothing_once_what_they_were_verified_on_changed(client, make_client, change):
    issued = make_client("admin")
    kept_client = kept(client, issued)
    before = AccessToken.objects.count()
    assert _guarded_token_row(kept_client)  # as long as nothing changed, it writes
    assert AccessToken.objects.count() == before + 1
    change(issued)
    assert not _guarded_token_row(kept_client)
    assert AccessToken.objects.count() == before + 1


@pytest.mark.django_db
def test_a_refused_condition_writes_no_row_of_the_ones_run_with_it(client, make_client):
    issued = make_client("admin")
    kept_client = kept(client, issued)
    _disable(issued)
    row = access_token_statement(
        stored_token="",
        checksum="d" * 64,
        application_id=kept_client.pk,
        user_id=None,
        scope="basic:read",
        expires=timezone.now() + timedelta(hours=1),
    )
    from django.test import RequestFactory

    from tokensvc.attempts import attempt_statement

    event = attempt_statement(
        Attempt(client=kept_client), RequestFactory().post("/"), action=AuditEvent.Action.TOKEN_ISSUED
    )
    before = (AccessToken.objects.count(), AuditEvent.objects.count())
    assert not statements_run_if(verified_clients.unchanged_condition(kept_client), [row, event])
    assert (AccessToken.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_revoke_key, "API key revoked"),
        (_expire_key, "API key expired"),
        (_delete_key, "API key unknown or of another client"),
        (_disable, "client disabled"),
        (_new_secret_hash, "wrong client secret"),
        (_rename_client_id, "unknown client_id"),
    ],
    ids=lambda value: getattr(value, "__name__", "").strip("_") or None,
)
def test_a_change_refuses_the_very_next_request_with_the_reason_from_the_database(
    client, make_client, change, reason
):
    issued = make_client("admin")
    kept(client, issued)
    tokens = AccessToken.objects.count()
    change(issued)
    response = token(client, issued)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.count() == tokens
    [refused] = events(issued, AuditEvent.Action.TOKEN_REFUSED)
    assert refused.reason == reason
    assert refused.granted_scope == ""
    assert len(events(issued, AuditEvent.Action.TOKEN_ISSUED)) == 1
    assert verified_clients.client_recall(issued.client.client_id, issued.api_key) is None


@pytest.mark.django_db
def test_a_rotated_secret_works_at_once_and_the_old_one_is_refused(client, make_client):
    issued = make_client("admin")
    kept(client, issued)
    new_secret = client_secret_rotate(client=Client.objects.get(pk=issued.client.pk))
    assert token(client, issued, secret=new_secret).status_code == 200
    assert token(client, issued).status_code == 401


@pytest.mark.django_db
def test_a_new_api_key_works_beside_the_kept_one(client, make_client):
    issued = make_client("admin")
    kept(client, issued)
    _, fresh = api_key_issue(client=issued.client)
    assert token(client, issued, api_key=fresh).status_code == 200
    assert token(client, issued).status_code == 200


@pytest.mark.django_db
def test_a_role_or_policy_change_is_in_the_next_token(client, make_client):
    issued = make_client("admin")
    kept(client, issued)
    _other_role(issued)
    assert token(client, issued).json()["scope"] == "basic:read"
    # A policy edit as the admin makes it (signals move the revision).
    Role.objects.get(name="viewer").scopes.add(Scope.objects.get(name="profile:read"))
    assert token(client, issued).json()["scope"] == "basic:read profile:read"


@pytest.mark.django_db
def test_a_refused_request_records_no_use(client, make_client):
    issued = make_client("admin")
    an_hour_ago = last_used_an_hour_ago(kept(client, issued))
    _revoke_key(issued)
    assert token(client, issued).status_code == 401
    assert Client.objects.get(pk=issued.client.pk).last_used_at == an_hour_ago
    assert ApiKey.objects.get(client=issued.client).last_used_at == an_hour_ago


@pytest.mark.django_db
def test_a_use_from_the_kept_rows_is_recorded_to_the_minute(client, make_client):
    issued = make_client("admin")
    an_hour_ago = last_used_an_hour_ago(kept(client, issued))
    assert token(client, issued).status_code == 200
    assert Client.objects.get(pk=issued.client.pk).last_used_at > an_hour_ago
    assert ApiKey.objects.get(client=issued.client).last_used_at > an_hour_ago


@pytest.mark.django_db
def test_a_wrong_guess_takes_one_slot_and_a_kept_success_takes_none(client, make_client, monkeypatch):
    issued = make_client("admin")
    kept(client, issued)
    taken, given_back, admitted = [], [], []

    def counted_slot(**where):
        slot = authentication_slot(**where)
        taken.append(where)
        release = slot.release
        slot.release = lambda: (given_back.append(where), release())[1]
        return slot

    def counted_admit(**where):
        admitted.append(where)
        authentication_admit(**where)

    monkeypatch.setattr(client_authentication, "authentication_slot", counted_slot)
    monkeypatch.setattr(client_authentication, "authentication_admit", counted_admit)
    # Admitted by the limits, not proven by the kept rows: a slot, kept, as for any failure.
    assert token(client, issued, secret="wrong").status_code == 401
    assert (len(taken), len(given_back), len(admitted)) == (1, 0, 1)
    assert verified_clients.client_recall(issued.client.client_id, issued.api_key) is not None
    # Proven by the kept rows: admitted under the limit, nothing reserved or counted.
    assert token(client, issued).status_code == 200
    assert (len(taken), len(given_back), len(admitted)) == (1, 0, 2)


@pytest.mark.django_db
def test_a_kept_client_at_its_limit_gets_429_and_no_token(client, make_client, settings):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 3
    issued = make_client("manager")
    kept(client, issued)
    for _ in range(3):
        assert token(client, issued, secret="wrong").status_code == 401
    tokens_before = AccessToken.objects.filter(application=issued.client).count()
    limited = token(client, issued)
    assert limited.status_code == 429
    assert limited.json()["error"] == "temporarily_unavailable"
    assert 1 <= int(limited["Retry-After"]) <= settings.AUTH_FAILURE_WINDOW
    assert AccessToken.objects.filter(application=issued.client).count() == tokens_before
    refused = events(issued, AuditEvent.Action.TOKEN_REFUSED)
    assert (
        sorted(event.reason for event in refused)
        == ["too many failed authentications"] + ["wrong client secret"] * 3
    )
    # Still kept: the limit refused the request, not the rows.
    assert verified_clients.client_recall(issued.client.client_id, issued.api_key) is not None


@pytest.mark.django_db
def test_a_limited_kept_client_is_refused_before_any_secret_is_checked(
    client, make_client, settings, monkeypatch
):
    """Right or wrong, the secret of a limited attempt is neither compared nor looked up: the
    two answers are the same, after the same work."""
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 3
    issued = make_client("manager")
    kept(client, issued)
    for _ in range(3):
        assert token(client, issued, secret="wrong").status_code == 401
    compared = []
    monkeypatch.setattr(
        authentication, "secret_matches", lambda secret, encoded: compared.append(secret) or False
    )
    for secret in (issued.client_secret, "wrong"):
        with CaptureQueriesContext(connection) as captured:
            assert token(client, issued, secret=secret).status_code == 429
        reads = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("INSERT")]
        assert reads == []
    assert compared == []


@pytest.mark.django_db
def test_slots_held_by_attempts_in_flight_count_against_a_kept_success(client, make_client, settings):
    """A kept success passes the same line a reservation does: failures, and attempts still
    being verified from the database, up to the limit."""
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 2
    issued = make_client("manager")
    kept(client, issued)
    # Two attempts of the client hold a slot each (their verification from the database is
    # still running, say): the limit is reached while they are in flight.
    held = [authentication_slot(client_id=issued.client.client_id, source_ip="127.0.0.1") for _ in range(2)]
    assert token(client, issued).status_code == 429
    for slot in held:
        slot.release()
    statuses = [token(client, issued).status_code for _ in range(5)]
    assert statuses == [200] * 5


@pytest.mark.django_db
def test_a_wrong_secret_is_decided_from_the_database_and_counted_once(client, make_client, settings):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 10
    settings.AUTH_FAILURE_LIMIT_PER_ADDRESS = 40
    issued = make_client("manager")
    kept(client, issued)
    cid = issued.client.client_id
    for _ in range(9):
        assert post_token(client, cid, "wrong", issued.api_key).status_code == 401
    # Nine failures of a limit of ten: one more is allowed.
    assert token(client, issued).status_code == 200
    assert post_token(client, cid, "wrong", issued.api_key).status_code == 401
    assert token(client, issued).status_code == 429
    reasons = [event.reason for event in events(issued, AuditEvent.Action.TOKEN_REFUSED)]
    assert sorted(reasons) == ["too many failed authentications"] + ["wrong client secret"] * 10


def keyed_secret() -> str:
    """A secret stored as the service stores new ones (keyed hash)."""
    return make_password("s" * 43, hasher="keyed_sha256")


@pytest.fixture
def built_policy(monkeypatch):
    """The revision of the policy this process built last: 0 (see `recall`)."""
    monkeypatch.setattr(verified_clients, "policy_cached_revision", lambda: 0)


@pytest.mark.usefixtures("built_policy")
def test_a_process_keeps_a_bounded_number_of_clients(monkeypatch):
    monkeypatch.setattr(verified_clients._clients, "limit", 3)

    def client(number: int) -> Client:
        found = Client(
            client_id=f"c{number}",
            provider_id=1,  # given, so that building it reads no default from the database
            client_type=Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
            requires_api_key=False,
            client_secret=keyed_secret(),
        )
        found.provider_kind, found.policy_revision = Provider.Kind.BUILTIN, 0
        return found

    for number in range(5):
        verified_clients.client_keep(client(number))
    kept_ids = [f"c{number}" for number in range(5) if verified_clients.client_recall(f"c{number}", None)]
    assert kept_ids == ["c2", "c3", "c4"]


@pytest.mark.usefixtures("built_policy")
def test_only_clients_that_this_path_can_decide_are_kept():
    def client(**changes) -> Client:
        found = Client(
            client_id="c",
            provider_id=1,
            client_type=Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
            requires_api_key=True,
            client_secret=keyed_secret(),
        )
        found.provider_kind, found.policy_revision = Provider.Kind.BUILTIN, 0
        found.key_lookup = type("Lookup", (), {"key_hash": keyed_hash("tk_key"), "key": ApiKey()})()
        for name, value in changes.items():
            setattr(found, name, value)
        return found

    refused = [
        client(provider_kind=Provider.Kind.KEYCLOAK),
        client(client_type=Client.CLIENT_PUBLIC),
        client(authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE),
        client(policy_revision=None),
        client(key_lookup=None),
        client(policy_revision=7),  # read under another revision than the policy built since
        # A secret of an older hasher: every attempt under the limit would pay a slow hash.
        client(client_secret=make_password("s" * 43, hasher="pbkdf2_sha256")),
    ]
    for found in refused:
        verified_clients.client_keep(found)
        assert verified_clients.client_recall("c", "tk_key") is None
    verified_clients.client_keep(client())
    assert verified_clients.client_recall("c", "tk_key") is not None
    # Only with the API key it was kept with: another one is checked by the database.
    assert verified_clients.client_recall("c", "tk_other") is None
    assert verified_clients.client_recall("c", None) is None
