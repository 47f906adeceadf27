"""A lock held by a thread of its own, for tests of what waits on it."""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


@contextmanager
def held_by_another_thread(lock: Callable[[], AbstractContextManager]) -> Iterator[threading.Event]:
    """`lock()` held by another thread from the start of the block until the event it gives is
    set, or the block ends."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        yield release
    finally:
        release.set()
        holder.join()
