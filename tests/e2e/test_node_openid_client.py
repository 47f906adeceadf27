"""openid-client (Node), driven only by the metadata document, against a live server.

openid-client replaces a `claims` member of token responses with its own helper; the response
member is `granted_claims` so Node users see it. Needs `node` and `npm ci` in tests/e2e/node
(`.ci/run` does both); without them the test is skipped, saying so, except in CI.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.models import Role
from accounts.services import client_create

NODE_DIR = Path(__file__).resolve().parent / "node"
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def node_client(env: dict[str, str]) -> dict:
    if not shutil.which("node") or not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        message = "needs node and `npm ci` in tests/e2e/node"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (.ci/run installs them)")
        pytest.skip(message)
    result = subprocess.run(
        ["node", "client_credentials.mjs"],  # noqa: S607
        cwd=NODE_DIR,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("viewer", {"profile": ["email", "name"]}),
        (
            "manager",
            {"address": ["city", "country", "postal_code", "street"], "profile": ["age", "email", "name"]},
        ),
    ],
)
def test_openid_client_gets_a_token_with_granted_claims_and_reads(live_server, role, claims):
    issued = client_create(name="node app", role=Role.objects.get(name=role))
    answer = node_client(
        {
            "ISSUER": live_server.url,
            "CLIENT_ID": issued.client.client_id,
            "CLIENT_SECRET": issued.client_secret,
            "API_KEY": issued.api_key,
        }
    )
    assert answer["token"]["granted_claims"] == claims
    assert answer["status"] == 200
    assert answer["body"]["count"] == 0


def test_openid_client_sees_invalid_client_without_the_api_key(live_server):
    issued = client_create(name="node app", role=Role.objects.get(name="viewer"))
    answer = node_client(
        {
            "ISSUER": live_server.url,
            "CLIENT_ID": issued.client.client_id,
            "CLIENT_SECRET": issued.client_secret,
            "API_KEY": "not-the-key",
        }
    )
    assert answer["status"] == 401
