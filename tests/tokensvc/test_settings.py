"""Settings come from the environment; a missing or bad value is one clear line at start."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

PRINT_SETTINGS = (
    "from django.conf import settings as s; import json; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'db': str(db['NAME']), "
    "'cache': s.CACHES['default']['BACKEND'], 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
    "'lifetime': s.OAUTH2_PROVIDER['ACCESS_TOKEN_EXPIRE_SECONDS']}))"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a clean environment holding only `env`."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_missing_secret_key_without_debug_is_one_line_naming_it():
    result = manage("check")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"ACCESS_TOKEN_LIFETIME": "one hour"}, "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": "0"}, "ACCESS_TOKEN_LIFETIME"),
        ({"REFRESH_TOKEN_LIFETIME": "-5"}, "REFRESH_TOKEN_LIFETIME"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
    ],
)
def test_invalid_values_are_one_line_naming_the_variable(env, name):
    result = manage("check", DEBUG="true", **env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"configuration error: {name}")
    assert "Traceback" not in result.stderr


def test_defaults_are_sqlite_in_the_project_and_local_memory_cache():
    result = manage("shell", "-v", "0", "-c", PRINT_SETTINGS, DEBUG="true")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db"] == str(settings.BASE_DIR / "db.sqlite3")
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["lifetime"] == 3600


def test_environment_selects_postgresql_redis_and_lifetime():
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        PRINT_SETTINGS,
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u@127.0.0.1:5432/tokens",
        REDIS_URL="redis://127.0.0.1:6379/3",
        ALLOWED_HOSTS="tokens.example.com,api.example.com",
        ACCESS_TOKEN_LIFETIME="300",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "tokensvc.postgresql"  # Django's, with a cheaper health check
    assert values["db"] == "tokens"
    assert values["cache"] == "tokensvc.redis_cache.RedisCache"  # Django's, one client per pool
    assert values["debug"] is False
    assert values["hosts"] == ["tokens.example.com", "api.example.com"]
    assert values["lifetime"] == 300
