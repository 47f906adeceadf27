"""A token's next PATCH is decided on its row kept from the last (tokensvc.kept_tokens), and its
UPDATE checks that row: any change to what it rests on, however it is written, is seen by the
very next request, which is then answered exactly as if the token had been read first."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts.models import Client, Role
from claims import services
from claims.models import Customer, PolicyRevision, Scope
from tests.claims.test_customer_api import API, get, send
from tests.test_statement_budget import sent, work
from tokensvc import kept_tokens
from tokensvc.selectors import bearer_token_find, token_checksum

AccessToken = get_access_token_model()


def patch(client, customer, token, body, content_type="application/json", **extra):
    if content_type == "application/json":
        return send(client, "patch", f"{API}{customer.pk}/", token, body, **extra)
    return client.patch(
        f"{API}{customer.pk}/", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}", **extra
    )


def kept_after_a_patch(client, customer, token):
    """`token` after one PATCH: read from the database and kept."""
    assert patch(client, customer, token, {"profile": {"age": 40}}).status_code == 200
    assert kept_tokens.token_recall(token_checksum(token)) is not None


@pytest.mark.django_db
def test_reads_keep_nothing(client, issue_token, customer):
    token = issue_token("editor")
    assert get(client, f"{API}{customer.pk}/", token).status_code == 200
    assert kept_tokens.token_recall(token_checksum(token)) is None


# Each changes, behind the kept row's back, something the PATCH rests on, the way an officer, a
# command or another process may: by QuerySet.update() or delete(), which send no signal.
def _revoke(token):
    AccessToken.objects.filter(token_checksum=token_checksum(token)).delete()


def _expire(token):
    AccessToken.objects.filter(token_checksum=token_checksum(token)).update(
        expires=timezone.now() - timedelta(seconds=1)
    )


def _disable_client(token):
    Client.objects.update(is_active=False)


def _move_client_to_a_role_that_cannot_write(token):
    Client.objects.update(role=Role.objects.get(name="salesperson"))


def _narrow_the_token_scope(token):
    AccessToken.objects.filter(token_checksum=token_checksum(token)).update(scope="profile:read")


def _take_write_from_the_role(token):
    # As an officer does it in the admin: the revision moves with it.
    Role.objects.get(name="editor").scopes.remove(Scope.objects.get(name="profile:write"))


REFUSED = [
    (_revoke, 401),
    (_expire, 401),
    (_disable_client, 401),
    (_move_client_to_a_role_that_cannot_write, 403),
    (_narrow_the_token_scope, 403),
    (_take_write_from_the_role, 403),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "status"), REFUSED, ids=[change.__name__ for change, _ in REFUSED])
def test_a_change_behind_the_kept_row_is_seen_by_the_next_patch(
    client, issue_token, customer, change, status
):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    change(token)
    response = patch(client, customer, token, {"profile": {"age": 77}})
    assert response.status_code == status, response.content
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.age, stored.version) == (40, 2)  # nothing written
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.json()["error"] == "insufficient_scope"
        assert response.json()["forbidden_claims"] == ["profile.age"]


@pytest.mark.django_db
def test_a_policy_revision_from_elsewhere_is_decided_again_and_the_row_kept_anew(
    client, issue_token, customer
):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    PolicyRevision.objects.update_or_create(id=1, defaults={"tag": 424242})  # changed elsewhere
    response, statements = sent(lambda: patch(client, customer, token, {"profile": {"age": 50}}))
    done = work(statements)
    assert response.status_code == 200, response.content
    # The kept row's UPDATE wrote nothing; the token was read again (and the policy of the
    # new revision built), then the customer written by an UPDATE that checks nothing kept.
    updates = [sql for sql in done if sql.startswith("UPDATE")]
    assert len(updates) == 2, done
    assert AccessToken._meta.db_table in updates[0]
    assert AccessToken._meta.db_table not in updates[1]
    assert any(sql.startswith("SELECT") and AccessToken._meta.db_table in sql for sql in done), done
    assert Customer.objects.get(pk=customer.pk).age == 50
    assert patch(client, customer, token, {"profile": {"age": 51}}).status_code == 200
    assert Customer.objects.get(pk=customer.pk).age == 51


@pytest.mark.django_db
def test_a_write_granted_since_the_row_was_kept_succeeds(client, issue_token, customer):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    Role.objects.get(name="editor").scopes.add(Scope.objects.get(name="address:write"))
    assert (
        patch(client, customer, token, {"address": {"city": "Paris"}}).status_code == 403
    )  # scope not in the token
    AccessToken.objects.filter(token_checksum=token_checksum(token)).update(
        scope="profile:read profile:write address:write"
    )
    response = patch(client, customer, token, {"address": {"city": "Paris"}})
    assert response.status_code == 200, response.content
    assert Customer.objects.get(pk=customer.pk).city == "Paris"


# Every refusal is decided from the database: with the token revoked meanwhile, each of these is
# the 401 a first request gets, not what the kept row would have answered.
BAD_REQUESTS = [
    ("missing customer", {"profile": {"age": 41}}, {}, 404),
    ("invalid value", {"profile": {"age": 999}}, {}, 400),
    ("claim not writable", {"banking": {"iban": "x"}}, {}, 403),
    ("stale version", {"profile": {"age": 41}}, {"HTTP_IF_MATCH": '"1"'}, 412),
    ("malformed body", "{", {}, 400),
    ("repeated key", '{"profile": {"age": 41, "age": 42}}', {}, 400),
    ("not JSON", "age=41", {"content_type": "application/x-www-form-urlencoded"}, 415),
    ("missing customer, malformed body", "{", {}, 404),
    ("too large", '{"profile": {"name": "' + "x" * 100_000 + '"}}', {}, 413),
]


@pytest.mark.django_db
@pytest.mark.parametrize("revoked", [False, True], ids=["live", "revoked"])
@pytest.mark.parametrize(
    ("name", "body", "headers", "status"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_refusals_are_those_of_a_token_read_first(
    client, issue_token, customer, revoked, name, body, headers, status
):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    if revoked:
        _revoke(token)
    target = Customer(pk=customer.pk + 1000) if name.startswith("missing customer") else customer
    answered = patch(client, target, token, body, **headers)
    assert answered.status_code == (401 if revoked else status), answered.content
    kept_tokens.tokens_forget_all()  # the same request from a process that kept nothing
    fresh = patch(client, target, token, body, **headers)
    assert (answered.json(), answered.get("WWW-Authenticate")) == (
        fresh.json(),
        fresh.get("WWW-Authenticate"),
    )
    assert Customer.objects.get(pk=customer.pk).version == 2


@pytest.mark.django_db
def test_only_live_client_tokens_are_kept_without_the_rows_read_along(issue_token):
    raw = issue_token("editor")
    token = bearer_token_find(raw)
    checksum = token_checksum(raw)
    for other in (
        token.__class__(**{**vars(token), "user_pk": 1, "user_is_active": True, "user_role": "editor"}),
        token.__class__(**{**vars(token), "expires": timezone.now() - timedelta(seconds=1)}),
        token.__class__(**{**vars(token), "client_is_active": False}),
    ):
        kept_tokens.token_keep(checksum, other)
        assert kept_tokens.token_recall(checksum) is None
    kept_tokens.token_keep(checksum, token.__class__(**{**vars(token), "along": ((1, "customer row"),)}))
    assert kept_tokens.token_recall(checksum).along is None


@pytest.mark.django_db
def test_past_the_limit_the_longest_kept_token_makes_room(issue_token, monkeypatch):
    monkeypatch.setattr(kept_tokens._tokens, "limit", 2)
    raws = [issue_token("editor") for _ in range(3)]
    for raw in raws[:2]:
        kept_tokens.token_keep(token_checksum(raw), bearer_token_find(raw))
    kept_tokens.token_keep(token_checksum(raws[0]), bearer_token_find(raws[0]))  # read again
    kept_tokens.token_keep(token_checksum(raws[2]), bearer_token_find(raws[2]))
    assert [kept_tokens.token_recall(token_checksum(raw)) is not None for raw in raws] == [True, False, True]


@pytest.mark.django_db
def test_the_fallback_never_decides_on_a_kept_row(client, issue_token, customer, monkeypatch):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    stale = kept_tokens.token_recall(token_checksum(token))
    _revoke(token)
    forget = kept_tokens.token_forget

    def forget_while_another_thread_keeps_its_old_row(checksum):
        forget(checksum)
        kept_tokens._tokens.put(checksum, stale)

    monkeypatch.setattr(kept_tokens, "token_forget", forget_while_another_thread_keeps_its_old_row)
    response = patch(client, customer, token, {"profile": {"age": 77}})
    assert response.status_code == 401, response.content
    assert Customer.objects.get(pk=customer.pk).version == 2


@pytest.mark.django_db
def test_a_kept_row_writes_with_if_match(client, issue_token, customer):
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    response = patch(client, customer, token, {"profile": {"age": 43}}, HTTP_IF_MATCH='"2"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"3"'
    assert Customer.objects.get(pk=customer.pk).age == 43


@pytest.mark.django_db
def test_without_update_returning_the_kept_row_is_checked_all_the_same(
    client, issue_token, customer, monkeypatch
):
    # Databases that cannot return the row from an UPDATE (SQLite before 3.35) read it back.
    monkeypatch.setattr(services, "_returning_supported", lambda: False)
    token = issue_token("editor")
    kept_after_a_patch(client, customer, token)
    assert patch(client, customer, token, {"profile": {"age": 44}}).json()["profile"]["age"] == 44
    _disable_client(token)
    assert patch(client, customer, token, {"profile": {"age": 45}}).status_code == 401
    assert Customer.objects.get(pk=customer.pk).age == 44
