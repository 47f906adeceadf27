"""How many SQL statements the hot endpoints send: each one is a round trip to the database.

The token endpoint, introspection and the customer API run on every call of every client, so a
statement more is a round trip more on each of them. The counts leave out transaction control
(BEGIN, COMMIT, savepoints): in these tests everything runs inside the test's transaction, whose
savepoints say nothing about the request. Whether the token endpoint sends transaction control
of its own on PostgreSQL is checked on the wire, in a transactional test.
"""

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model

from accounts import audit, verified_clients
from accounts.models import ApiKey, AuditEvent, Client
from claims.models import Customer, PolicyRevision
from tests.conftest import FORM, _basic
from tests.tokensvc.oauth_helpers import introspection

API = "/api/v1/customers/"
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
TOKEN_TABLE = get_access_token_model()._meta.db_table
POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: elsewhere the two writes share a transaction, which is BEGIN and COMMIT",
)


def sent(request: Callable):
    """The response of `request()` and every statement it sent, transaction control included."""
    with CaptureQueriesContext(connection) as captured:
        response = request()
    return response, [query["sql"] for query in captured.captured_queries]


def work(statements: list[str]) -> list[str]:
    return [sql for sql in statements if not sql.lstrip().upper().startswith(CONTROL)]


def token_request(client, issued):
    return client.post(
        "/oauth/token/",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=_basic(issued.client.client_id, issued.client_secret),
        HTTP_X_API_KEY=issued.api_key,
    )


def reads_client_key_and_revision(sql: str) -> bool:
    """The one SELECT that finds the client, its presented API key and the policy revision."""
    return sql.startswith("SELECT") and all(
        table in sql
        for table in (Client._meta.db_table, ApiKey._meta.db_table, PolicyRevision._meta.db_table)
    )


def is_token_lookup(sql: str) -> bool:
    """The bearer-token lookup, which brings the policy revision along."""
    return sql.startswith("SELECT") and TOKEN_TABLE in sql and PolicyRevision._meta.db_table in sql


@pytest.mark.django_db
def test_token_endpoint_reads_once_and_writes_token_and_audit_event_together(client, make_client):
    """A client's first token in this process: read, verified, written."""
    issued = make_client("admin")
    assert token_request(client, issued).status_code == 200  # builds this process's policy cache
    verified_clients.clients_forget_all()  # as in a process that has not seen the client yet
    response, statements = sent(lambda: token_request(client, issued))
    assert response.status_code == 200, response.content
    done = work(statements)
    assert reads_client_key_and_revision(done[0]), done[0]
    if connection.vendor == "postgresql":
        # One statement stores both rows: the token INSERT in a WITH clause, then the event's.
        assert len(done) == 2, done
        assert done[1].startswith("WITH")
        assert f'INSERT INTO "{TOKEN_TABLE}"' in done[1]
        assert f"INSERT INTO {AuditEvent._meta.db_table}" in done[1]
    else:
        assert len(done) == 3, done
        assert done[1].startswith(f'INSERT INTO "{TOKEN_TABLE}"')
        assert done[2].startswith(f"INSERT INTO {AuditEvent._meta.db_table}")
        # ... and both INSERTs share one transaction (here a savepoint in the test's transaction).
        first, last = statements.index(done[1]), statements.index(done[2])
        assert statements[first - 1].startswith("SAVEPOINT")
        assert statements[last + 1].startswith("RELEASE SAVEPOINT")
    assert get_access_token_model().objects.count() == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_ISSUED).count() == 2


def checks_what_the_client_was_verified_on(sql: str) -> bool:
    """The token INSERT that writes only while the client's row, its API key's and the policy
    revision are what they were (accounts.verified_clients)."""
    return (
        f'INSERT INTO "{TOKEN_TABLE}"' in sql
        and " WHERE EXISTS (SELECT 1 FROM " in sql
        and all(
            table in sql
            for table in (Client._meta.db_table, ApiKey._meta.db_table, PolicyRevision._meta.db_table)
        )
    )


@pytest.mark.django_db
def test_next_token_of_a_verified_client_is_the_write_alone(client, make_client):
    """Its rows were kept from its first token: no read; the write checks them instead."""
    issued = make_client("admin")
    assert token_request(client, issued).status_code == 200
    response, statements = sent(lambda: token_request(client, issued))
    assert response.status_code == 200, response.content
    done = work(statements)
    assert checks_what_the_client_was_verified_on(done[0]), done[0]
    if connection.vendor == "postgresql":
        assert len(done) == 1, done
        assert done[0].startswith("WITH")
        assert f"INSERT INTO {AuditEvent._meta.db_table}" in done[0]
    else:
        assert len(done) == 2, done
        assert done[1].startswith(f"INSERT INTO {AuditEvent._meta.db_table}")
    assert get_access_token_model().objects.filter(application=issued.client).count() == 2
    assert AuditEvent.objects.filter(client=issued.client, action=AuditEvent.Action.TOKEN_ISSUED).count() == 2


@contextmanager
def wire(lines: list[str]) -> Iterator[None]:
    """What this process's connection sends to and receives from PostgreSQL meanwhile, as libpq
    traces it (one message a line: 'F' from us, 'B' from the server), into `lines`. Unlike
    CaptureQueriesContext it sees the BEGIN and COMMIT a transaction sends."""
    from psycopg import pq

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile() as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield
        finally:
            pgconn.untrace()
            trace.seek(0)
            lines += trace.read().decode(errors="replace").splitlines()


@POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_token_endpoint_on_postgresql_is_one_round_trip_without_transaction_control(client, make_client):
    """Outside a test transaction, as in production: the two writes are one statement, atomic by
    itself, so no BEGIN, COMMIT or savepoint is sent, and once the client is verified (its
    first token) the request is that one round trip."""
    issued = make_client("admin")
    # Warm the policy cache, verify the client (its first token), and let psycopg prepare the
    # statement of the next ones (it prepares a statement the third time it runs, at one extra
    # round trip), so the last request is the steady state.
    warm: list[str] = []
    with wire(warm):
        for _ in range(4):
            assert token_request(client, issued).status_code == 200
    lines: list[str] = []
    with wire(lines):
        response, statements = sent(lambda: token_request(client, issued))
    assert response.status_code == 200, response.content
    assert [sql.split(None, 1)[0] for sql in statements] == ["WITH"]
    for line in warm + lines:
        message = line.split("\t")
        if message[0] == "F" and message[2:3] == ["Query"]:  # how psycopg sends transaction control
            assert not message[3].strip(' "').upper().startswith(CONTROL), line
    assert not [line for line in lines if "SAVEPOINT" in line or '"BEGIN"' in line or '"COMMIT"' in line]
    # Every round trip ends with the server's ReadyForQuery; its status 'I' says no transaction
    # was left open.
    ready = [line for line in lines if line.startswith("B") and "\tReadyForQuery\t" in line]
    assert len(ready) == 1, lines
    assert all(line.endswith("I") for line in ready)
    # Committed on their own: both rows are there for everyone.
    assert get_access_token_model().objects.filter(application=issued.client).count() == 5
    assert AuditEvent.objects.filter(client=issued.client, action=AuditEvent.Action.TOKEN_ISSUED).count() == 5


@pytest.mark.django_db
def test_introspection_is_one_statement_and_its_event_joins_the_next_batch(
    client, make_client, issue_token, settings
):
    """Client and token are read by one statement; the event of this read is written with the
    next batch (accounts.audit_batch), not by the request."""
    settings.AUDIT_BATCH_SECONDS = 3600  # the batch thread stays asleep: only flush() writes
    token = issue_token("admin")
    server = make_client("manager", is_resource_server=True)

    def introspect():
        return introspection(client, server, token)

    assert introspect().json()["active"] is True
    response, statements = sent(introspect)
    assert response.status_code == 200
    assert response.json()["active"] is True
    done = work(statements)
    assert len(done) == 1, done
    assert reads_client_key_and_revision(done[0]), done[0]
    assert is_token_lookup(done[0]), done[0]
    introspected = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_INTROSPECTED)
    assert not introspected.exists()
    assert audit._batch(3600).flush() == 2
    assert introspected.filter(client=server.client).count() == 2


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "head"])
def test_customer_detail_is_one_statement_reading_token_and_customer(client, issue_token, customer, method):
    token, url = issue_token("admin"), f"{API}{customer.pk}/"
    assert client.get(url, **bearer(token)).status_code == 200
    response, statements = sent(lambda: getattr(client, method)(url, **bearer(token)))
    assert response.status_code == 200
    if method == "get":
        assert response.json()["id"] == customer.pk
    done = work(statements)
    assert len(done) == 1, done
    assert is_token_lookup(done[0]), done[0]
    assert f"FROM {Customer._meta.db_table}" in done[0].replace('"', "")


@pytest.mark.django_db
def test_a_missing_customer_is_found_missing_by_the_same_statement(client, issue_token, customer):
    token = issue_token("admin")
    assert client.get(f"{API}{customer.pk}/", **bearer(token)).status_code == 200
    response, statements = sent(lambda: client.get(f"{API}{customer.pk + 1000}/", **bearer(token)))
    assert response.status_code == 404
    assert len(work(statements)) == 1, statements


@pytest.mark.django_db
def test_first_list_page_is_two_statements_once_the_total_is_cached(client, issue_token):
    call_command("seed_demo", count=12, verbosity=0)
    token, url = issue_token("admin"), f"{API}?page_size=5"
    assert client.get(url, **bearer(token)).json()["count"] == 12  # policy cache and total warm
    response, statements = sent(lambda: client.get(url, **bearer(token)))
    assert response.status_code == 200
    assert (response.json()["count"], len(response.json()["results"])) == (12, 5)
    done = work(statements)
    assert len(done) == 2, done
    assert is_token_lookup(done[0]), done[0]
    assert Customer._meta.db_table in done[1]
    assert "COUNT(" not in done[1].upper()


NEEDS_UPDATE_RETURNING = pytest.mark.skipif(
    not connection.features.can_return_columns_from_insert,
    reason="needs UPDATE ... RETURNING (PostgreSQL, SQLite 3.35+); without it the row is read back",
)


def patched_age(client, url: str, token: str, age: int):
    """A PATCH of the profile's age, its answer checked; the statements it sent."""
    response, statements = sent(
        lambda: client.patch(
            url, json.dumps({"profile": {"age": age}}), content_type="application/json", **bearer(token)
        )
    )
    assert response.status_code == 200, response.content
    assert response.json()["profile"]["age"] == age
    return response, work(statements)


@pytest.mark.django_db
@NEEDS_UPDATE_RETURNING
@pytest.mark.parametrize("role", ["editor", "admin"])
def test_patch_is_the_token_lookup_and_one_update_returning(client, issue_token, customer, role):
    token, url = issue_token(role), f"{API}{customer.pk}/"
    assert client.get(url, **bearer(token)).status_code == 200  # policy cache warm
    response, done = patched_age(client, url, token, 40)
    assert response["ETag"] == '"2"'
    assert len(done) == 2, done
    assert is_token_lookup(done[0]), done[0]
    assert done[1].startswith(f'UPDATE "{Customer._meta.db_table}"')
    assert " RETURNING " in done[1]
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.age, stored.version) == (40, 2)


@pytest.mark.django_db
@NEEDS_UPDATE_RETURNING
def test_a_tokens_next_patch_is_one_update_that_checks_its_kept_row(client, issue_token, customer):
    token, url = issue_token("editor"), f"{API}{customer.pk}/"
    patched_age(client, url, token, 40)
    response, done = patched_age(client, url, token, 41)
    assert response["ETag"] == '"3"'
    assert len(done) == 1, done
    assert done[0].startswith(f'UPDATE "{Customer._meta.db_table}"')
    assert " RETURNING " in done[0]
    # The kept row's check (tokensvc.kept_tokens) rides in the UPDATE.
    assert TOKEN_TABLE in done[0]
    assert PolicyRevision._meta.db_table in done[0]
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.age, stored.version) == (41, 3)
