"""Real app servers for black-box tests: gunicorn on a free loopback port, production settings."""

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


def production_env(**overrides: str) -> dict[str, str]:
    """DEBUG off, a test secret key, plain HTTP on loopback; the rest from `overrides`."""
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "black-box-test-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        **overrides,
    }


def start_gunicorn(env: dict[str, str], *, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """A started server and its base URL, once it answers (any status) on the metadata URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "tokensvc.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
    ]
    process = subprocess.Popen(  # noqa: S603  (our own server, fixed arguments)
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=5)
            return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    pytest.fail("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)
