"""gunicorn.conf.py: threads by database, and the workers' heartbeat files in memory."""

import runpy

import environ
import pytest
from django.conf import settings

CONF = settings.BASE_DIR / "gunicorn.conf.py"

URLS = [
    "sqlite:////var/lib/tokensvc/db.sqlite3",
    "sqlite://:memory:",
    "SQLITE:////var/lib/tokensvc/db.sqlite3",
    "spatialite:////var/lib/tokensvc/geo.sqlite3",
    "postgres://tokensvc@db.internal:5432/tokensvc",
    "postgresql://tokensvc@127.0.0.1/tokensvc",
    "pgsql://tokensvc@127.0.0.1/tokensvc",
    "mysql://tokensvc@127.0.0.1/tokensvc",
]


def threads_with(monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> int:
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    return runpy.run_path(str(CONF))["threads"]


def test_without_database_url_the_service_is_on_sqlite_and_runs_one_thread(monkeypatch):
    assert threads_with(monkeypatch, None) == 1


@pytest.mark.parametrize("url", URLS)
def test_threads_follow_the_database_the_settings_read_from_the_same_url(monkeypatch, url):
    # The settings parse DATABASE_URL with django-environ; the configuration must agree with it.
    engine = environ.Env.db_url_config(url)["ENGINE"]
    is_sqlite = engine.startswith("django.db.backends.sqlite3") or engine.endswith(".spatialite")
    assert threads_with(monkeypatch, url) == (1 if is_sqlite else 4)


def test_heartbeat_files_live_in_memory_where_the_machine_has_one(monkeypatch):
    memory = runpy.run_path(str(CONF))["MEMORY_FILE_SYSTEM"]
    present = {memory}
    monkeypatch.setattr("os.path.isdir", lambda path: path in present)
    assert runpy.run_path(str(CONF))["worker_tmp_dir"] == memory
    present.clear()
    assert "worker_tmp_dir" not in runpy.run_path(str(CONF))  # gunicorn's default then
