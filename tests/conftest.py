"""Shared fixtures: the seeded policy comes from the migrations, clients from the services."""

import pytest

from accounts.models import Role
from accounts.services import IssuedClient, client_create


@pytest.fixture
def make_client(db):
    """Create a client of a seeded role through the service, as an officer would."""

    def make(role: str = "manager", **kwargs) -> IssuedClient:
        kwargs.setdefault("name", f"{role} integration")
        return client_create(role=Role.objects.get(name=role), **kwargs)

    return make
