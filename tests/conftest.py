"""Shared fixtures: the seeded policy comes from the migrations, clients from the services."""

import uuid

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from accounts import verified_clients
from accounts.models import Role
from accounts.services import IssuedClient, client_create
from tokensvc import introspection, kept_tokens

# Property tests are judged on what they find, not on how fast: this machine's speed varies
# by a factor of two to four from one minute to the next, and a slow moment must not fail a
# test on time alone (the `too_slow` health check, the per-example deadline).
hypothesis_settings.register_profile("steady", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("steady")


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """Each test gets its own cache key prefix, so rate-limit counters never leak between tests
    (or between parallel workers sharing one Redis)."""
    caches = {name: {**config} for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Clients verified by one test are not kept for the next (accounts.verified_clients), nor
    introspection answers (tokensvc.introspection) or token rows (tokensvc.kept_tokens): each
    test starts as a fresh process does."""
    verified_clients.clients_forget_all()
    introspection.answers_forget_all()
    kept_tokens.tokens_forget_all()
    yield
    verified_clients.clients_forget_all()
    introspection.answers_forget_all()
    kept_tokens.tokens_forget_all()


# A valid German IBAN (checksum and length), used wherever a customer needs one.
IBAN = "DE89370400440532013000"


@pytest.fixture
def customer(db):
    """One customer with a value in every claim."""
    from decimal import Decimal

    from claims.models import Customer

    return Customer.objects.create(
        name="Ada Lovelace",
        email="ada@example.com",
        age=36,
        street="1 Main Street",
        city="London",
        postal_code="N1 9GU",
        country="GB",
        iban=IBAN,
        bank_name="Commerzbank",
        credit_limit=Decimal("1000.00"),
        annual_income=Decimal("52000.00"),
    )


@pytest.fixture
def make_client(db):
    """Create a client of a seeded role through the service, as an officer would."""

    def make(role: str = "manager", **kwargs) -> IssuedClient:
        kwargs.setdefault("name", f"{role} integration")
        return client_create(role=Role.objects.get(name=role), **kwargs)

    return make


FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def issue_token(client, make_client):
    """A client-credentials token for a new client of `role`, obtained over HTTP."""
    from urllib.parse import urlencode

    def issue(role: str, **params) -> str:
        issued = make_client(role)
        response = client.post(
            "/oauth/token/",
            urlencode({"grant_type": "client_credentials", **params}),
            content_type=FORM,
            HTTP_AUTHORIZATION=_basic(issued.client.client_id, issued.client_secret),
            HTTP_X_API_KEY=issued.api_key,
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
