"""With the database unreachable every endpoint answers a quick JSON 503, and recovers after."""

import base64

import pytest
from django.db import OperationalError, connection

from claims import authentication as api_authentication

FORM = "application/x-www-form-urlencoded"


def unreachable(*args, **kwargs):
    raise OperationalError("connection refused")


def refuse_every_statement(execute, sql, params, many, context):
    raise OperationalError("connection refused")


@pytest.mark.django_db
def test_token_endpoint_answers_503_and_recovers(client, make_client):
    issued = make_client("manager")
    auth = "Basic " + base64.b64encode(f"{issued.client.client_id}:{issued.client_secret}".encode()).decode()

    def post():
        return client.post(
            "/oauth/token/",
            "grant_type=client_credentials",
            content_type=FORM,
            HTTP_AUTHORIZATION=auth,
            HTTP_X_API_KEY=issued.api_key,
        )

    # Every statement fails, as with the database gone.
    with connection.execute_wrapper(refuse_every_statement):
        down = post()
    assert down.status_code == 503
    assert down.json()["error"] == "temporarily_unavailable"
    assert down["Retry-After"] == "5"
    assert down["Cache-Control"] == "no-store"
    assert post().status_code == 200


@pytest.mark.django_db
def test_api_answers_503_in_json(client, issue_token, monkeypatch):
    token = issue_token("admin")
    monkeypatch.setattr(api_authentication, "bearer_token_find", unreachable)
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
