"""Several nodes: two gunicorn servers sharing PostgreSQL and Redis behave as one service."""

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts.models import ApiKey, Role
from accounts.services import client_create
from claims.models import Customer, Scope
from tests.hardening.servers import production_env, start_gunicorn, stop

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
AccessToken = get_access_token_model()


@pytest.fixture
def nodes():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL): the nodes must share both")
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = production_env(
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database_url,
        REDIS_URL=settings.REDIS_URL,
        AUTH_FAILURE_LIMIT_PER_CLIENT="3",
    )
    processes, urls = [], []
    try:
        for _ in range(2):
            process, url = start_gunicorn(env, workers=2)
            processes.append(process)
            urls.append(url)
        yield urls
    finally:
        for process in processes:
            stop(process)
        connection.close()


def test_two_nodes_share_tokens_revocation_policy_and_limits(nodes):
    one, two = nodes
    issued = client_create(name="crm", role=Role.objects.get(name="manager"))
    customer = Customer.objects.create(name="Ada", email="ada@example.com", city="London")
    credentials = {
        "auth": (issued.client.client_id, issued.client_secret),
        "headers": {"X-API-Key": issued.api_key},
    }

    token = requests.post(
        f"{one}/oauth/token/", data={"grant_type": "client_credentials"}, timeout=10, **credentials
    )
    assert token.status_code == 200
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    record = f"/api/v1/customers/{customer.pk}/"
    # Issued on one, accepted on the other (and every worker of both is warmed up).
    for _ in range(4):
        for node in (one, two):
            assert "address" in requests.get(f"{node}{record}", headers=bearer, timeout=10).json()

    # A policy change is seen by the very next request on both nodes.
    Role.objects.get(name="manager").scopes.remove(Scope.objects.get(name="address:read"))
    for node in (two, one):
        assert "address" not in requests.get(f"{node}{record}", headers=bearer, timeout=10).json()

    # Revoked through one, refused by the other at once.
    revoked = requests.post(
        f"{one}/oauth/revoke/", data={"token": token.json()["access_token"]}, timeout=10, **credentials
    )
    assert revoked.status_code == 200
    assert requests.get(f"{two}{record}", headers=bearer, timeout=10).status_code == 401

    # Failed authentications on both nodes count against one shared limit of 3.
    wrong = {"auth": (issued.client.client_id, "wrong"), "headers": {"X-API-Key": issued.api_key}}
    statuses = [
        requests.post(
            f"{node}/oauth/token/", data={"grant_type": "client_credentials"}, timeout=10, **wrong
        ).status_code
        for node in (one, two, one, two)
    ]
    assert statuses == [401, 401, 401, 429]


def test_a_credential_change_is_seen_by_the_next_token_request_on_every_node(nodes):
    """Each worker keeps a client it has verified (accounts.verified_clients); a change made
    anywhere, here straight in the database, still decides the very next request everywhere."""
    issued = client_create(name="crm", role=Role.objects.get(name="manager"))

    def tokens(api_key: str) -> list[int]:
        return [
            requests.post(
                f"{node}/oauth/token/",
                data={"grant_type": "client_credentials"},
                auth=(issued.client.client_id, issued.client_secret),
                headers={"X-API-Key": api_key},
                timeout=10,
            ).status_code
            for node in nodes
            for _ in range(8)  # both workers of each node, all but surely
        ]

    assert set(tokens(issued.api_key)) == {200}
    ApiKey.objects.filter(client=issued.client).update(revoked_at=timezone.now())
    # 401 until the limit of 3 failures, then 429: never a token.
    refused = tokens(issued.api_key)
    assert refused[:3] == [401, 401, 401]
    assert set(refused) <= {401, 429}
    assert AccessToken.objects.filter(application=issued.client).count() == 16
