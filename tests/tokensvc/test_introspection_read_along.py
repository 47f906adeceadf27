"""Introspection reads the token with the statement that finds the resource server: the same
answers as reading it afterwards, and nothing of it for a caller that fails to authenticate."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model

from accounts.authentication import client_find
from claims.models import Customer
from tests.tokensvc.oauth_helpers import INTROSPECT_URL, basic, client_credentials_token, post_form
from tokensvc import resource_server, views
from tokensvc.rows import Statement
from tokensvc.selectors import bearer_token_find, bearer_token_from_rows, bearer_token_statement

pytestmark = pytest.mark.django_db
AccessToken = get_access_token_model()


def introspect(client, server, token: str, **extra):
    headers = {"HTTP_AUTHORIZATION": basic(server.client.client_id, server.client_secret)}
    if server.api_key is not None:
        headers["HTTP_X_API_KEY"] = server.api_key
    return post_form(client, INTROSPECT_URL, {"token": token, **extra}, **headers)


@pytest.fixture
def server(make_client):
    return make_client("viewer", name="orders service", is_resource_server=True)


@pytest.fixture
def admin_token(client, make_client) -> str:
    return client_credentials_token(client, make_client("admin", name="back office"))["access_token"]


def without_read_along(monkeypatch) -> None:
    monkeypatch.setattr(resource_server, "bearer_token_statement", lambda raw: None)


@pytest.mark.parametrize("case", ["live", "expired", "unknown", "hinted as a refresh token"])
def test_answers_equal_those_of_reading_the_token_afterwards(client, server, admin_token, case, monkeypatch):
    extra = {"token_type_hint": "refresh_token"} if case == "hinted as a refresh token" else {}
    token = "no-such-token" if case == "unknown" else admin_token
    if case == "expired":
        AccessToken.objects.update(expires="2000-01-01T00:00:00Z")
    along = introspect(client, server, token, **extra)
    without_read_along(monkeypatch)
    after = introspect(client, server, token, **extra)
    assert along.status_code == after.status_code == 200
    assert along.json() == after.json()
    assert along.json()["active"] is (case in ("live", "hinted as a refresh token"))


@pytest.mark.parametrize("with_api_key", [True, False])
def test_one_statement_finds_the_server_and_the_token(client, make_client, admin_token, with_api_key):
    server = make_client("viewer", name="ledger", is_resource_server=True, with_api_key=with_api_key)
    assert introspect(client, server, admin_token).json()["active"] is True  # policy cache warm
    with CaptureQueriesContext(connection) as captured:
        body = introspect(client, server, admin_token).json()
    assert body["active"] is True
    assert body["scope"]
    # (besides the introspection's audit event, which these tests write at once)
    reads = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    assert len(reads) == 1, reads


@pytest.fixture
def never_answered(monkeypatch):
    """Fails the test if the view computes an introspection answer."""

    def refuse(*args, **kwargs):
        raise AssertionError("an introspection answer was computed")

    monkeypatch.setattr(views, "introspect", refuse)


@pytest.mark.parametrize("wrong", ["secret", "api key"])
def test_a_refused_server_learns_nothing_of_the_token(client, server, admin_token, wrong, never_answered):
    secret = "not-the-secret" if wrong == "secret" else server.client_secret
    key = "not-the-key" if wrong == "api key" else server.api_key
    response = post_form(
        client,
        INTROSPECT_URL,
        {"token": admin_token},
        HTTP_AUTHORIZATION=basic(server.client.client_id, secret),
        HTTP_X_API_KEY=key,
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert set(body) <= {"error", "error_description"}


def test_a_client_that_is_no_resource_server_learns_nothing(client, make_client, admin_token, never_answered):
    other = make_client("viewer", name="not a resource server")
    response = introspect(client, other, admin_token)
    assert response.status_code == 401
    assert set(response.json()) <= {"error", "error_description"}


def test_the_lookup_keeps_its_own_placeholders_apart_from_the_read_along(server, admin_token, customer):
    """The key's hash (a JOIN placeholder), the read's and the client_id (WHERE) each land on
    their own place in the SQL, with or without an API key."""
    read = Statement(f"SELECT id, name FROM {Customer._meta.db_table} WHERE id = %s", [customer.pk])  # noqa: S608
    found = client_find(server.client.client_id, api_key=server.api_key, along=read)
    assert found.pk == server.client.pk
    assert found.key_lookup.key is not None  # the presented key was found by the same statement
    assert found.along == ((customer.pk, customer.name),)
    found = client_find(server.client.client_id, along=read)
    assert found.along == ((customer.pk, customer.name),)
    assert client_find("no-such-client", api_key=server.api_key, along=read) is None


def test_the_token_read_along_is_the_token_read_alone(server, admin_token):
    found = client_find(
        server.client.client_id, api_key=server.api_key, along=bearer_token_statement(admin_token)
    )
    assert bearer_token_from_rows(found.along) == bearer_token_find(admin_token)
    unknown = client_find(server.client.client_id, api_key=server.api_key, along=bearer_token_statement("x"))
    assert unknown.along == ()
    assert bearer_token_from_rows(unknown.along) is None


def test_a_refresh_token_hint_reads_the_access_token_on_its_own(client, server, admin_token):
    """With the hint the refresh tokens are looked at first, so nothing is read along; an
    access token given anyway is still found, by a statement of its own."""
    assert introspect(client, server, admin_token).json()["active"] is True  # policy cache warm
    with CaptureQueriesContext(connection) as captured:
        body = introspect(client, server, admin_token, token_type_hint="refresh_token").json()
    assert body["active"] is True
    reads = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    token_table = AccessToken._meta.db_table
    assert token_table not in reads[0]  # the server's lookup
    assert any(token_table in sql and "refresh" not in sql for sql in reads[1:])


def test_a_limited_attempt_hashes_no_token(client, server, admin_token, settings, monkeypatch):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 1
    wrong = post_form(
        client, INTROSPECT_URL, {"token": admin_token}, HTTP_AUTHORIZATION=basic(server.client.client_id, "x")
    )
    assert wrong.status_code == 401

    def refuse(raw):
        raise AssertionError("the token was hashed")

    monkeypatch.setattr(resource_server, "bearer_token_statement", refuse)
    assert introspect(client, server, admin_token).status_code == 429
