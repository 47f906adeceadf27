"""gunicorn's production configuration, read by `gunicorn tokensvc.wsgi` started in this folder.

Threads, not one request per process: a request spends much of its time waiting for PostgreSQL
and Redis (one to four round trips each), and a sync worker leaves its core idle meanwhile
(a third of the time in the benchmarks); with threads another request runs while one waits,
and keep-alive connections spare a TCP handshake per request.

On SQLite, one thread per worker. There a statement is no round trip: nothing is waited for
that another thread could use, and each thread's connection is one more reader of the same
file. Every write by one of them makes the others drop their page cache and their memory map
of the database at their next statement, and a second writer sleeps in SQLite's busy handler
(1 ms, then 2, 5, ...) until the first commits. One thread made tokens a sixth cheaper and
PATCH a twentieth, and reads no dearer (bench/FINDINGS.md). A deployment on SQLite that
forwards tokens to external providers waits on them (up to PROVIDER_TIMEOUT_SECONDS): give it
threads back with `--threads 4`.

Every setting can be overridden on the command line or in GUNICORN_CMD_ARGS (e.g.
"--threads 8"), workers also in WEB_CONCURRENCY, as gunicorn documents.
"""

import multiprocessing
import os

import environ

wsgi_app = "tokensvc.wsgi"
worker_class = "gthread"
# One process per core (threads cover the waiting), at least two so one can restart while the
# other serves.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))


SQLITE_ENGINES = ("django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite")


def _is_sqlite() -> bool:
    # The engine tokensvc/settings.py will use: DATABASE_URL parsed as it parses it, with its
    # default (SQLite) when unset.
    url = os.environ.get("DATABASE_URL", "sqlite://")
    return environ.Env.db_url_config(url).get("ENGINE") in SQLITE_ENGINES


threads = 1 if _is_sqlite() else 4
# Idle keep-alive connections wait in the worker's poller, not in a thread.
keepalive = 5
timeout = 30
graceful_timeout = 20
# Each worker touches a heartbeat file on every pass of its loop (once or twice per request),
# and the arbiter restarts a worker whose file goes stale. On a disk-backed temporary directory
# each touch is a file-system metadata write that can wait behind the disk (SQLite's writes
# share it); gunicorn's documentation advises a memory-backed one. Measured on one worker:
# tokens on SQLite 864, 868, 868 -> 840, 831, 880 us of CPU each (alternating pairs).
MEMORY_FILE_SYSTEM = "/dev/shm"  # noqa: S108  (gunicorn makes a private file there, as in /tmp)
if os.path.isdir(MEMORY_FILE_SYSTEM):
    worker_tmp_dir = MEMORY_FILE_SYSTEM
