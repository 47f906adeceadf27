"""SQLite: the write-ahead log is copied into the database and started over by a thread of
each process.

Under a steady write load some other thread is always reading inside the WAL, so SQLite never
starts it over by itself: it grew to 90 MB within 8 s of tokens, and once it was past
`wal_autocheckpoint` every commit tried a checkpoint of its own, reading back the frames it had
just written and syncing both files (half a sync per token). A RESTART checkpoint waits,
briefly, for readers to leave the WAL; after it, the next writer starts the WAL over. Traced
over 4 s of tokens: 0.03 syncs per token instead of 0.50 (bench/FINDINGS.md).

A RESTART holds every writer back while it copies and syncs. So the thread copies the WAL
into the database at every pass (five an interval, at least five a second) by a PASSIVE
checkpoint, which holds no writer back (it does the copying and the syncs; a checkpoint
tried meanwhile gives up), and restarts the WAL once an interval, or sooner once it holds
RESTART_AFTER_FRAMES: the restart then has only the last moment's frames to copy. Sooner,
because `wal_autocheckpoint` counts every frame in the WAL, copied or not, and a token adds
about 12 pages: at 2,000 tokens a second the WAL reached that limit (10,000 pages) within
half a second, and the commit that got there ran a checkpoint of its own, both syncs
included, before its answer. During a restart this process's transactions on the hot paths
(`tokensvc.direct_sql.transaction_atomic`: tokens and their audit events) wait on its lock
(`local_writes()`) rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20,
25, 25 ... ms in turn: a writer already waiting overslept the end of a checkpoint by 23 ms in
a trace. Single statements in autocommit (a PATCH, a refusal's audit event) still wait there.

SQLITE_CHECKPOINT_SECONDS sets the interval; 0 leaves checkpoints to SQLite alone (e.g. under
a replication tool that runs its own, such as Litestream).
"""

import logging
import os
import sqlite3
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)

# How long a restart waits for the current writer and for readers still in the WAL. New
# writers wait behind it meanwhile, so it is short; a restart that gives up is retried at the
# next interval, and SQLite's own rule (`wal_autocheckpoint`) still applies in between.
WAIT_SECONDS = 0.05
# Passes (PASSIVE checkpoints) per interval, and at most this long between two; the WAL size
# that restarts it before the interval is over: well below `wal_autocheckpoint` (10,000 pages,
# tokensvc/settings.py; a test compares them).
PASSES_PER_INTERVAL = 5
MAX_PASS_SECONDS = 0.2
RESTART_AFTER_FRAMES = 4_000

# Held by this process's hot-path transactions and by a restart. Reentrant, so that no thread
# can ever wait on itself.
_local_writes = threading.RLock()


def local_writes() -> threading.RLock:
    """This process's lock between its hot-path writers and its restarts of the WAL. Looked up
    at each use: a forked child has a lock of its own."""
    return _local_writes


def _new_lock_after_fork() -> None:
    # A child process must not inherit the lock held by a thread that does not exist there.
    global _local_writes
    _local_writes = threading.RLock()


os.register_at_fork(after_in_child=_new_lock_after_fork)

_started: set[tuple[int, str]] = set()  # (process id, path): a forked child starts its own
_lock = threading.Lock()


def copy_back(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: what it can copy of the WAL, holding no writer or reader back.
    (1 if it could not finish, frames in the WAL, frames copied)."""
    return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


def restart(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One RESTART checkpoint, this process's hot-path writers held back meanwhile: (1 if it
    could not finish, frames in the WAL, frames copied; -1 and -1 when another checkpoint was
    running)."""
    with local_writes():
        return connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()


def _run(path: str, interval: float) -> None:
    try:
        connection = sqlite3.connect(path, timeout=WAIT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        log.warning("WAL checkpoints not run: %s", error)
        return
    failing = False
    restart_at, retry_at = time.monotonic() + interval, 0.0
    restarted_frames = None  # the WAL's size at the last restart, until a writer starts it over
    while True:
        time.sleep(min(interval / PASSES_PER_INTERVAL, MAX_PASS_SECONDS))
        if not os.path.exists(path):
            return  # the database was removed (a test's, a benchmark's): nothing left to do
        try:
            _, frames, _ = copy_back(connection)
            now = time.monotonic()
            grown = frames >= RESTART_AFTER_FRAMES and frames != restarted_frames
            if now >= restart_at or (grown and now >= retry_at):
                busy, log_frames, _ = restart(connection)
                restart_at = now + interval
                # A reader that kept the WAL may still be there: writers are held back for it
                # at most once an interval. (-1: another checkpoint ran; nobody was held back.)
                retry_at = restart_at if busy and log_frames >= 0 else now
                restarted_frames = None if busy else log_frames
            failing = False
        except sqlite3.Error as error:
            if not failing:  # once per outage, not once a second
                log.warning("WAL checkpoint failed: %s", error)
            failing = True


def is_file_database(settings_dict: dict) -> bool:
    """Whether a SQLite connection's settings name a database file by its path. In-memory
    databases have no WAL; a `file:` URI (which Django also takes) is left to SQLite's own
    rule rather than opened here with options that may not be its own."""
    name = str(settings_dict.get("NAME") or "")
    return bool(name) and name != ":memory:" and not name.startswith("file:")


def start_wal_checkpoints(path: str, interval: float) -> threading.Thread | None:
    """Start the checkpointing thread of this process for the database file at `path`, once;
    it ends when the file is gone. The thread, or None when it was already started."""
    key = (os.getpid(), path)
    with _lock:
        if key in _started:
            return None
        _started.add(key)
    thread = threading.Thread(target=_run, args=(path, interval), name="wal-checkpoints", daemon=True)
    thread.start()
    return thread


def on_connection_created(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: the first SQLite file connection of a process starts the
    thread (gunicorn's workers fork before they connect, so each worker has its own)."""
    interval = settings.SQLITE_CHECKPOINT_SECONDS
    if connection.vendor == "sqlite" and interval and is_file_database(connection.settings_dict):
        start_wal_checkpoints(str(connection.settings_dict["NAME"]), interval)
