"""Faults, black-box: a real server whose database cannot be reached answers fast JSON 503s."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_without_database():
    """gunicorn with DATABASE_URL pointing at a closed port: every connection is refused."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "fault-test-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/nothing",
        "REDIS_URL": "",
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "tokensvc.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    process = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


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
