"""SQLite's WAL is checkpointed and started over by a thread of each process."""

import os
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

from tests.tokensvc.held_locks import held_by_another_thread
from tokensvc import wal_checkpoints
from tokensvc.wal_checkpoints import (
    copy_back,
    is_file_database,
    on_connection_created,
    restart,
    start_wal_checkpoints,
)


def _database(path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpoints under test
    writer.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    return writer


def _write(writer: sqlite3.Connection, rows: int) -> None:
    for _ in range(rows):
        writer.execute("INSERT INTO t VALUES (?)", ["x" * 500])


def _wal_frames(writer: sqlite3.Connection) -> int:
    """Frames in the WAL now, read without copying any (a PASSIVE checkpoint that cannot run)."""
    return writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_after_a_checkpoint_the_next_write_starts_the_wal_over(tmp_path):
    writer = _database(tmp_path / "db.sqlite3")
    reader = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    _write(writer, 300)
    reader.execute("SELECT COUNT(*) FROM t").fetchone()  # a reader that has been in the WAL
    busy, frames, copied = restart(sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None))
    assert (busy, copied) == (0, frames)
    assert frames >= 300
    _write(writer, 1)
    assert _wal_frames(writer) <= 2


def test_a_reader_inside_the_wal_makes_it_give_up_quickly_not_wait(tmp_path):
    writer = _database(tmp_path / "db.sqlite3")
    _write(writer, 50)
    reader = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM t").fetchone()  # holds its snapshot in the WAL
    _write(writer, 50)
    started = time.perf_counter()
    busy, _frames, _copied = restart(
        sqlite3.connect(tmp_path / "db.sqlite3", timeout=wal_checkpoints.WAIT_SECONDS, isolation_level=None)
    )
    assert busy == 1
    assert time.perf_counter() - started < 1
    reader.execute("COMMIT")
    _write(writer, 1)  # the writer is not blocked afterwards
    assert _wal_frames(writer) > 50  # not started over while the reader was there


def test_the_thread_keeps_the_wal_short_under_writes(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    writer = _database(path)
    assert start_wal_checkpoints(path, 0.05) is not None
    assert start_wal_checkpoints(path, 0.05) is None  # once per process and file
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _write(writer, 200)
        time.sleep(0.2)  # a checkpoint or more
        _write(writer, 1)
        if _wal_frames(writer) < 50:
            break
    assert _wal_frames(writer) < 50
    writer.close()
    Path(path).unlink()  # the thread ends with its database


def test_copying_back_holds_no_writer_back(tmp_path):
    writer = _database(tmp_path / "db.sqlite3")
    _write(writer, 300)
    writer.execute("BEGIN IMMEDIATE")  # a writer in the middle of its transaction
    checkpointer = sqlite3.connect(
        tmp_path / "db.sqlite3", timeout=wal_checkpoints.WAIT_SECONDS, isolation_level=None
    )
    busy, frames, copied = copy_back(checkpointer)
    assert (busy, copied) == (0, frames)
    assert frames >= 300
    assert restart(checkpointer)[0] == 1  # a restart would have to wait for that writer
    writer.execute("COMMIT")


def test_a_restart_waits_for_the_hot_path_writes_of_this_process(tmp_path):
    _write(_database(tmp_path / "db.sqlite3"), 10)
    checkpointer = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None, check_same_thread=False)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (restart(checkpointer), done.set()))
    with wal_checkpoints.local_writes():  # a hot-path write in progress
        thread.start()
        assert not done.wait(0.3)
    assert done.wait(5)
    thread.join()


def _restarts_seen(monkeypatch, tmp_path, reports: list[tuple[int, int, int]]) -> int:
    """Run the thread for half a second (a pass every 10 ms, a restart due every 60 s) on the
    WAL `_wal_of` describes, its restarts reporting `reports` in turn (the last one from then
    on); how many restarts it ran."""
    restarts = 0

    def restart(connection: sqlite3.Connection) -> tuple[int, int, int]:
        nonlocal restarts
        restarts += 1
        return reports[min(restarts, len(reports)) - 1]

    monkeypatch.setattr(wal_checkpoints, "MAX_PASS_SECONDS", 0.01)
    monkeypatch.setattr(wal_checkpoints, "restart", restart)
    path = tmp_path / "db.sqlite3"
    _database(path).close()
    thread = start_wal_checkpoints(str(path), 60)
    time.sleep(0.5)
    path.unlink()  # the thread ends with its database
    thread.join(5)
    assert not thread.is_alive()
    return restarts


def _wal_of(monkeypatch, frames: int) -> None:
    """A WAL whose PASSIVE checkpoints report `frames` at every pass, all copied."""
    monkeypatch.setattr(wal_checkpoints, "copy_back", lambda connection: (0, frames, frames))


def test_the_thread_restarts_a_wal_past_its_limit_before_the_interval(monkeypatch, tmp_path):
    limit = wal_checkpoints.RESTART_AFTER_FRAMES
    _wal_of(monkeypatch, limit)
    # Each restart reports a WAL one frame longer: a writer appended to it since.
    assert _restarts_seen(monkeypatch, tmp_path, [(0, limit + n, limit + n) for n in range(1, 200)]) >= 5


def test_a_wal_under_its_limit_waits_for_the_interval(monkeypatch, tmp_path):
    _wal_of(monkeypatch, wal_checkpoints.RESTART_AFTER_FRAMES - 1)
    assert _restarts_seen(monkeypatch, tmp_path, [(0, 0, 0)]) == 0


def test_a_wal_no_writer_has_started_over_since_its_restart_is_not_restarted_again(monkeypatch, tmp_path):
    frames = wal_checkpoints.RESTART_AFTER_FRAMES + 10
    _wal_of(monkeypatch, frames)
    assert _restarts_seen(monkeypatch, tmp_path, [(0, frames, 0)]) == 1


def test_a_restart_a_reader_kept_from_finishing_is_not_retried_before_the_interval(monkeypatch, tmp_path):
    frames = wal_checkpoints.RESTART_AFTER_FRAMES
    _wal_of(monkeypatch, frames)
    assert _restarts_seen(monkeypatch, tmp_path, [(1, frames, 10)]) == 1


def test_a_restart_another_checkpoint_kept_from_running_is_retried_at_the_next_pass(monkeypatch, tmp_path):
    _wal_of(monkeypatch, wal_checkpoints.RESTART_AFTER_FRAMES)
    assert _restarts_seen(monkeypatch, tmp_path, [(1, -1, -1)]) >= 5


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only: its wal_autocheckpoint setting")
@pytest.mark.django_db
def test_the_wal_is_restarted_well_before_sqlite_would_checkpoint_it_at_a_commit():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (autocheckpoint,) = cursor.fetchone()
    assert 0 < wal_checkpoints.RESTART_AFTER_FRAMES <= autocheckpoint / 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_inherit_the_lock_held_by_another_thread():
    with held_by_another_thread(wal_checkpoints.local_writes):
        child = os.fork()
        if child == 0:  # pragma: no cover  (the child's exit status is the assertion)
            os._exit(0 if wal_checkpoints.local_writes().acquire(timeout=2) else 1)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/srv/tokens/db.sqlite3", True),
        (":memory:", False),
        ("file:memorydb_default?mode=memory&cache=shared", False),
        ("file:/srv/tokens/db.sqlite3?mode=rwc", False),
        ("", False),
    ],
)
def test_only_database_files_are_checkpointed(name, expected):
    assert is_file_database({"NAME": name}) is expected


def test_the_setting_and_the_database_decide_whether_the_thread_starts(monkeypatch, settings, tmp_path):
    started = []
    monkeypatch.setattr(wal_checkpoints, "start_wal_checkpoints", lambda *args: started.append(args))
    file_db = SimpleNamespace(vendor="sqlite", settings_dict={"NAME": str(tmp_path / "db.sqlite3")})
    settings.SQLITE_CHECKPOINT_SECONDS = 0
    on_connection_created(None, file_db)
    settings.SQLITE_CHECKPOINT_SECONDS = 1.0
    on_connection_created(None, SimpleNamespace(vendor="sqlite", settings_dict={"NAME": ":memory:"}))
    on_connection_created(None, SimpleNamespace(vendor="postgresql", settings_dict={"NAME": "tokens"}))
    assert started == []
    on_connection_created(None, file_db)
    assert started == [(str(tmp_path / "db.sqlite3"), 1.0)]
