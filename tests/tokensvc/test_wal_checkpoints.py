"""SQLite's WAL is checkpointed and started over by a thread of each process."""

import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tokensvc import wal_checkpoints
from tokensvc.wal_checkpoints import (
    checkpoint,
    is_file_database,
    on_connection_created,
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
    busy, frames, copied = checkpoint(sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None))
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
    busy, _frames, _copied = checkpoint(
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
    assert start_wal_checkpoints(path, 0.05) is True
    assert start_wal_checkpoints(path, 0.05) is False  # once per process and file
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
