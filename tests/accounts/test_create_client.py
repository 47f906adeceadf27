"""`manage.py create_client` prints the credentials once and stores them only hashed."""

import io
import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import ApiKey, Client


def create_client(*args: str) -> dict:
    out = io.StringIO()
    call_command("create_client", *args, stdout=out)
    return json.loads(out.getvalue())


def database_dump() -> str:
    """Every value of every row of the project's tables, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db
def test_create_client_prints_the_documented_json():
    output = create_client("--name", "crm", "--role", "manager")
    assert set(output) == {"client_id", "client_secret", "api_key", "role", "scopes"}
    assert output["role"] == "manager"
    assert output["scopes"] == ["address:read", "profile:read"]
    client = Client.objects.get(client_id=output["client_id"])
    assert client.role.name == "manager"
    assert client.authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS
    assert client.client_type == Client.CLIENT_CONFIDENTIAL
    assert not client.is_resource_server


@pytest.mark.django_db
def test_secrets_have_256_bits_and_are_not_readable_from_the_database():
    output = create_client("--name", "crm", "--role", "admin")
    secret, api_key = output["client_secret"], output["api_key"]
    # 43 URL-safe base64 characters carry 258 bits.
    assert len(secret) >= 43
    assert len(api_key.partition(".")[2]) >= 43
    dump = database_dump()
    assert secret not in dump
    assert api_key not in dump
    assert api_key.partition(".")[2] not in dump
    # What is stored is a keyed hash that verifies the secret, and is no secret itself.
    client = Client.objects.get(client_id=output["client_id"])
    assert client.client_secret.startswith("keyed_sha256$")
    from django.contrib.auth.hashers import check_password

    assert check_password(secret, client.client_secret)
    assert not check_password(client.client_secret, client.client_secret)


@pytest.mark.django_db
def test_api_key_carries_its_public_prefix():
    output = create_client("--name", "crm", "--role", "viewer")
    key = ApiKey.objects.get(client__client_id=output["client_id"])
    assert output["api_key"].startswith(key.prefix + ".")
    assert key.is_usable()


@pytest.mark.django_db
def test_two_clients_never_share_credentials():
    first = create_client("--name", "a", "--role", "viewer")
    second = create_client("--name", "b", "--role", "viewer")
    assert first["client_secret"] != second["client_secret"]
    assert first["api_key"] != second["api_key"]
    assert first["client_id"] != second["client_id"]


@pytest.mark.django_db
def test_no_api_key_flag_gives_null():
    output = create_client("--name", "batch", "--role", "viewer", "--no-api-key")
    assert output["api_key"] is None
    assert not ApiKey.objects.filter(client__client_id=output["client_id"]).exists()


@pytest.mark.django_db
def test_resource_server_flag_marks_the_client():
    output = create_client("--name", "gateway", "--role", "viewer", "--resource-server")
    assert Client.objects.get(client_id=output["client_id"]).is_resource_server


@pytest.mark.django_db
def test_unknown_role_is_an_error_listing_the_roles():
    with pytest.raises(CommandError) as caught:
        create_client("--name", "x", "--role", "nobody")
    message = str(caught.value)
    assert "nobody" in message
    for role in ["admin", "editor", "manager", "salesperson", "viewer"]:
        assert role in message
    assert not Client.objects.exists()


def test_unknown_role_exits_non_zero_in_a_shell(tmp_path):
    # A real process on a fresh database, so the exit status is the one a shell sees.
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=settings.BASE_DIR, env=env, check=True)  # noqa: S603
    result = subprocess.run(  # noqa: S603
        [*manage, "create_client", "--name", "x", "--role", "nobody"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "unknown role 'nobody'; roles are: admin, editor, manager, salesperson, viewer" in result.stderr
