"""The PostgreSQL health check that costs no round trip (tokensvc/postgresql/base.py).

A reused connection is checked before the first query of each request. Instead of Django's
`SELECT 1`, an idle connection's socket is polled: the server announces every way it drops a
connection (an error message, the end of the stream), while a healthy idle connection receives
nothing. These tests check both answers on a real connection, that a connection inside a
transaction still gets Django's own check, and, on a real gunicorn, that requests after every
server connection was terminated are served, not answered 503.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from accounts.models import Role
from accounts.services import client_create
from claims.models import Customer
from tests.hardening.servers import production_env, start_gunicorn, stop
from tests.test_statement_budget import wire

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only: the socket-polling health check is its backend's (SQLite has no server)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

OTHER_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def dsn() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def own_connection():
    """This process's connection, outside any transaction; closed afterwards, so that the next
    test opens a fresh one whatever this one did to it."""
    connection.ensure_connection()
    try:
        yield connection
    finally:
        connection.close()


def status() -> psycopg.pq.TransactionStatus:
    return connection.connection.info.transaction_status


def test_an_idle_healthy_connection_is_usable_and_nothing_is_sent(own_connection):
    assert status() == psycopg.pq.TransactionStatus.IDLE
    sent: list[str] = []
    with wire(sent):
        assert connection.is_usable() is True
    assert sent == []  # no SELECT 1: not a byte to the server and back


def test_a_connection_terminated_by_the_server_becomes_unusable(own_connection):
    assert connection.is_usable() is True
    pid = connection.connection.info.backend_pid
    with psycopg.connect(dsn(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    deadline = time.monotonic() + 2
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert connection.is_usable() is False
    # What Django makes of that answer at the start of the next request: it closes the
    # connection, and the first query opens a new one.
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_inside_a_transaction_django_checks_with_a_query(own_connection):
    with transaction.atomic():
        Customer.objects.exists()  # psycopg sends BEGIN with the first query
        assert status() == psycopg.pq.TransactionStatus.INTRANS
        sent: list[str] = []
        with wire(sent):
            assert connection.is_usable() is True
        assert any(line.startswith("F") and "SELECT 1" in line for line in sent), sent


def test_inside_a_failed_transaction_the_connection_is_not_usable(own_connection):
    """A polled socket would say yes here (nothing to read); Django's query says no, as it did
    before this backend: the transaction is aborted and answers nothing until rolled back."""
    with transaction.atomic():
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        assert status() == psycopg.pq.TransactionStatus.INERROR
        assert connection.is_usable() is False
        transaction.set_rollback(True)


@pytest.fixture
def server():
    env = production_env(
        SECRET_KEY=settings.SECRET_KEY, DATABASE_URL=dsn().replace("postgresql://", "postgres://", 1)
    )
    env["REDIS_URL"] = settings.REDIS_URL or ""
    # One worker of the repository's gunicorn.conf.py: gthread, four threads, each with its own
    # persistent database connection.
    process, url = start_gunicorn(env, workers=1)
    try:
        yield url
    finally:
        stop(process)
        connection.close()


def other_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(OTHER_BACKENDS)
        return {pid for (pid,) in cursor.fetchall()}


def test_after_every_connection_is_terminated_the_next_requests_are_served(server):
    issued = client_create(name="crm", role=Role.objects.get(name="admin"))
    customer = Customer.objects.create(name="Ada", email="ada@example.com")
    credentials = {
        "auth": (issued.client.client_id, issued.client_secret),
        "headers": {"X-API-Key": issued.api_key},
    }

    def token() -> requests.Response:
        return requests.post(
            f"{server}/oauth/token/", data={"grant_type": "client_credentials"}, timeout=10, **credentials
        )

    first = token()
    assert first.status_code == 200, first.text
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}

    def read(_: int = 0) -> requests.Response:
        return requests.get(f"{server}/api/v1/customers/{customer.pk}/", headers=bearer, timeout=10)

    # Concurrent reads, so that the server's threads each open (and keep) a connection.
    with ThreadPoolExecutor(8) as pool:
        assert {response.status_code for response in pool.map(read, range(16))} == {200}
    held = other_backends()
    # A connection per busy thread (four here): gunicorn.conf.py's threads are in use, and more
    # than one dead connection is to be met afterwards.
    assert len(held) >= 2, held

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({OTHER_BACKENDS}) AS other")  # noqa: S608
        assert all(terminated for (terminated,) in cursor.fetchall())
    time.sleep(0.3)

    def call(index: int) -> requests.Response:
        return token() if index % 3 == 0 else read()

    # Concurrent again, so that every thread meets its dead connection.
    with ThreadPoolExecutor(4) as pool:
        answers = [(r.status_code, r.text[:200]) for r in pool.map(call, range(12))]
    assert [code for code, _ in answers] == [200] * 12, answers
    assert not held & other_backends()  # served over new connections
