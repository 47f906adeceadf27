"""A process's bounded store of rows kept for later requests (kept clients, kept tokens, kept
introspection answers): safe across threads, the oldest entry making room past the limit."""

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class KeptRows(Generic[K, V]):
    def __init__(self, limit: int):
        self.limit = limit
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        # One dict lookup, atomic under the GIL: readers take no lock.
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep `value` as the newest entry for `key`, in place of any kept before."""
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = value

    def drop(self, key: K, *, only: V | None = None) -> None:
        """Drop the entry for `key`; with `only`, only if it is still that very value (another
        thread may have kept a newer one meanwhile)."""
        with self._lock:
            if only is None or self._entries.get(key) is only:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def oldest_first(self) -> list[K]:
        """The keys, the oldest first (the next to make room)."""
        with self._lock:
            return list(self._entries)
