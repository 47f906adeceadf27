"""gunicorn's production configuration, read by `gunicorn tokensvc.wsgi` started in this folder.

Threads, not one request per process: a request spends much of its time waiting for PostgreSQL
and Redis (one to four round trips each), and a sync worker leaves its core idle meanwhile
(a third of the time in the benchmarks); with threads another request runs while one waits,
and keep-alive connections spare a TCP handshake per request. Every setting can be overridden
on the command line or in GUNICORN_CMD_ARGS (e.g. "--threads 8"), workers also in
WEB_CONCURRENCY, as gunicorn documents.
"""

import multiprocessing
import os

wsgi_app = "tokensvc.wsgi"
worker_class = "gthread"
# One process per core (threads cover the waiting), at least two so one can restart while the
# other serves.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
threads = 4
# Idle keep-alive connections wait in the worker's poller, not in a thread.
keepalive = 5
timeout = 30
graceful_timeout = 20
