"""The token endpoint's client lookup reads only the columns it uses; the rest load on use."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import client_find


@pytest.mark.django_db
def test_the_client_and_its_presented_key_come_in_one_statement(make_client):
    issued = make_client("manager", name="crm")
    with CaptureQueriesContext(connection) as captured:
        client = client_find(issued.client.client_id, api_key=issued.api_key)
        assert client.pk == issued.client.pk
        assert (client.role_id, client.is_active, client.requires_api_key) == (
            issued.client.role_id,
            True,
            True,
        )
        assert client.presented_key.client_id == client.pk
        assert client.presented_key.revoked_at is None
    assert len(captured) == 1
    assert '"name"' not in captured[0]["sql"]  # a column authentication does not use


@pytest.mark.django_db
def test_a_column_left_out_is_loaded_when_first_used(make_client):
    issued = make_client("manager", name="crm")
    client = client_find(issued.client.client_id, api_key=issued.api_key)
    with CaptureQueriesContext(connection) as captured:
        assert client.name == "crm"
        assert client.redirect_uris == issued.client.redirect_uris
    assert len(captured) == 2  # one query per deferred field, as QuerySet.only() gives


@pytest.mark.django_db
def test_a_key_of_another_client_is_not_joined(make_client):
    ours, theirs = make_client("manager"), make_client("viewer")
    client = client_find(ours.client.client_id, api_key=theirs.api_key)
    assert client.pk == ours.client.pk
    assert client.presented_key is None
