"""Faults, black-box: a real server whose database cannot be reached answers fast JSON 503s."""

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.hardening.servers import ROOT, free_port, production_env, start_gunicorn, stop


@pytest.fixture
def server_without_database():
    """gunicorn with DATABASE_URL pointing at a closed port: every connection is refused."""
    env = production_env(DATABASE_URL=f"postgres://nobody@127.0.0.1:{free_port()}/nothing", REDIS_URL="")
    process, url = start_gunicorn(env)
    try:
        yield url
    finally:
        stop(process)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/oauth/token/", {"data": {"grant_type": "client_credentials"}, "auth": ("id", "secret")}),
        ("post", "/oauth/introspect/", {"data": {"token": "x"}, "auth": ("id", "secret")}),
        ("get", "/api/v1/customers/", {"headers": {"Authorization": "Bearer abc"}}),
    ],
)
def test_unreachable_database_is_a_fast_json_503(server_without_database, method, path, kwargs):
    started = time.monotonic()
    response = getattr(requests, method)(f"{server_without_database}{path}", timeout=10, **kwargs)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"]


@pytest.fixture
def prepared_database(tmp_path) -> tuple[dict, dict]:
    """A migrated SQLite file with demo customers and an admin integration, and its server env."""
    env = production_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # A closed port: Redis is down for the whole test.
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v0"], ["seed_demo", "--count", "3"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    created = subprocess.run(  # noqa: S603
        [*manage, "create_client", "--name", "batch", "--role", "admin"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return env, json.loads(created.stdout)


def get_token(url: str, credentials: dict) -> requests.Response:
    return requests.post(
        f"{url}/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
        headers={"X-API-Key": credentials["api_key"]},
        timeout=10,
    )


def test_with_redis_down_tokens_and_api_keep_working(prepared_database):
    env, credentials = prepared_database
    process, url = start_gunicorn(env)
    try:
        token = get_token(url, credentials)
        assert token.status_code == 200
        # The next ones come from the rows each worker kept, whose limits are read first.
        assert [get_token(url, credentials).status_code for _ in range(4)] == [200] * 4
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert requests.get(f"{url}/api/v1/customers/", headers=bearer, timeout=10).status_code == 200
    finally:
        stop(process)


def test_an_accepted_write_survives_a_hard_restart(prepared_database):
    env, credentials = prepared_database
    process, url = start_gunicorn(env)
    try:
        bearer = {"Authorization": f"Bearer {get_token(url, credentials).json()['access_token']}"}
        patched = requests.patch(
            f"{url}/api/v1/customers/1/", json={"profile": {"age": 77}}, headers=bearer, timeout=10
        )
        assert patched.status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)  # no graceful shutdown: the master dies at once
        process.wait(timeout=10)
    process, url = start_gunicorn(env)
    try:
        record = requests.get(f"{url}/api/v1/customers/1/", headers=bearer, timeout=10)
        assert record.json()["profile"]["age"] == 77
    finally:
        stop(process)
