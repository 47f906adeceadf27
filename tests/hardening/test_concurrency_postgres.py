"""Races that only a real database with concurrent connections can show (PostgreSQL).

Each test starts 20 threads at one barrier; every thread has its own Django test client and so
its own database connection, and closes it at its end. The tests are transactional (each
request commits for the others to see); `serialized_rollback` restores the seeded roles and
scopes that the flush after each transactional test removes.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client as HttpClient

from claims.models import Customer
from tests.tokensvc.oauth_helpers import (
    REVOKE_URL,
    basic,
    browser_app,
    client_credentials_token,
    introspected,
    people_tokens,
    person,
    post_form,
    refresh,
)

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises every writer, so these races cannot happen there",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 20
API_URL = "/api/v1/customers/"


def in_parallel(work: Callable[[int, HttpClient], object], threads: int = THREADS) -> list:
    """work(i, client) in `threads` threads released together; the results in thread order."""
    barrier = threading.Barrier(threads)

    def run(i: int):
        try:
            http = HttpClient()
            barrier.wait(timeout=30)
            return work(i, http)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))


@pytest.fixture
def resource_server(make_client):
    return make_client("viewer", name="orders service", is_resource_server=True)


# ---------------------------------------------------------------- (a) one refresh token, 20 refreshes


def test_parallel_refreshes_of_one_refresh_token_succeed_exactly_once(client):
    app, user = browser_app(), person()
    tokens = people_tokens(client, app, user)
    client.logout()

    def attempt(_i, http):
        response = refresh(http, app, tokens["refresh_token"])
        return response.status_code, orjson.loads(response.content)

    results = in_parallel(attempt)
    statuses = Counter(status for status, _ in results)
    empty = sum(1 for status, body in results if status == 200 and not body.get("access_token"))
    assert statuses == {200: 1, 400: THREADS - 1}, f"{statuses}; 200s carrying an empty access_token: {empty}"
    for status, body in results:
        if status == 400:
            assert body["error"] == "invalid_grant", body
    # One new pair: no two callers walked away with refresh tokens of their own.
    issued = {body["refresh_token"] for status, body in results if status == 200}
    assert len(issued) == 1


# ---------------------------------------------------------------- (b) one version, 20 writers


def test_parallel_patches_with_one_if_match_write_exactly_once(client, issue_token):
    call_command("seed_demo", count=3, stdout=io.StringIO())
    customer = Customer.objects.order_by("pk").first()
    token = issue_token("editor")
    response = client.get(f"{API_URL}{customer.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    etag = response["ETag"]
    untouched = Customer.objects.filter(pk=customer.pk).values("street", "iban", "credit_limit").get()

    def attempt(i, http):
        response = http.patch(
            f"{API_URL}{customer.pk}/",
            orjson.dumps({"profile": {"name": f"Writer {i}", "age": 20 + i}}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IF_MATCH=etag,
        )
        return i, response.status_code, orjson.loads(response.content)

    results = in_parallel(attempt)
    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: 1, 412: THREADS - 1}, statuses
    for _, status, body in results:
        if status == 412:
            assert body["error"] == "precondition_failed", body
    [(winner, _, written)] = [result for result in results if result[1] == 200]
    # No lost update: the row is exactly the one successful write, and one version later.
    final = Customer.objects.get(pk=customer.pk)
    assert (final.name, final.age) == (f"Writer {winner}", 20 + winner)
    assert written["profile"]["name"] == final.name
    assert final.version == customer.version + 1
    assert Customer.objects.filter(pk=customer.pk).values("street", "iban", "credit_limit").get() == untouched


# ---------------------------------------------------------------- (c) revocation during use


@pytest.mark.parametrize("kind", ["client_credentials", "person"])
def test_a_token_revoked_while_in_use_is_refused_from_then_on(client, make_client, resource_server, kind):
    if kind == "client_credentials":
        owner = make_client("manager", name="crm")
        token = client_credentials_token(client, owner)["access_token"]
        revoke_with = {
            "HTTP_AUTHORIZATION": basic(owner.client.client_id, owner.client_secret),
            "HTTP_X_API_KEY": owner.api_key,
        }
        revoke_params = {"token": token}
    else:
        app = browser_app()
        token = people_tokens(client, app, person())["access_token"]
        client.logout()
        revoke_with = {}
        revoke_params = {"token": token, "client_id": app.client_id}
    assert introspected(client, resource_server, token)["active"] is True

    revoked = threading.Event()
    uses_after_revocation = 25

    def work(i, http):
        if i == 0:
            response = post_form(http, REVOKE_URL, revoke_params, **revoke_with)
            assert response.status_code == 200, response.content
            revoked.set()
            return []
        seen, after = [], 0
        while after < uses_after_revocation:
            started_after_revocation = revoked.is_set()
            if i % 2:
                response = http.get(API_URL, HTTP_AUTHORIZATION=f"Bearer {token}")
                outcome = ("api", response.status_code)
            else:
                outcome = ("introspection", introspected(http, resource_server, token)["active"])
            seen.append((started_after_revocation, outcome))
            after += started_after_revocation
        return seen

    uses = [use for per_thread in in_parallel(work) for use in per_thread]
    late = [outcome for started_after, outcome in uses if started_after]
    assert len(late) == (THREADS - 1) * uses_after_revocation
    wrong = [outcome for outcome in late if outcome not in {("api", 401), ("introspection", False)}]
    assert not wrong, f"{len(wrong)} uses after the revocation succeeded: {Counter(wrong)}"
    # And the revocation did not disturb anything before it: early uses were either answer.
    early = {outcome for started_after, outcome in uses if not started_after}
    assert early <= {("api", 200), ("api", 401), ("introspection", True), ("introspection", False)}
