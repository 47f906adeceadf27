"""`timestamptz` values read by psycopg's C loader when the session's zone is UTC.

Django registers a loader of its own for `timestamptz`: a subclass of psycopg's pure-Python
loader that sets the connection's zone on each value. psycopg swaps its own Python loaders for
their C versions (psycopg_binary), but not a subclass, so every timestamp Django reads is
parsed by a regular expression, and every cursor's loader first looks up the session's zone:
about 15 µs per timestamp column of a one-row read, and most of a page of customers' decoding.

When Django wants UTC, and it sets the session's TimeZone to it, psycopg's C loader gives the
same values (aware, `datetime.timezone.utc`, out of range the same error). Should someone run
`SET TIME ZONE` on a connection, the C loader still gives the right instant, in that zone,
where Django's would label the session's local time as UTC. This loader hands
the work to it. It is a Python class only so that Django's `create_cursor`, which compares its
`timezone` with the wanted one, still finds it; the C class can be neither subclassed nor
given the attribute.
"""

import datetime
from functools import lru_cache

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format

_TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid
_C_LOADER = psycopg.adapters.get_loader(_TIMESTAMPTZ, Format.TEXT)


def c_loader_available() -> bool:
    """Whether psycopg's optimised build (psycopg_binary or psycopg_c) provides the loader."""
    return _C_LOADER is not None and not _C_LOADER.__module__.startswith("psycopg.")


class UtcTimestamptzLoader(Loader):
    format = Format.TEXT
    timezone = datetime.UTC  # read by Django's create_cursor

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        self._c_loader = _C_LOADER(oid, context)
        # Shadows the method below: the row loader calls `loader.load`, here the C method itself.
        self.load = self._c_loader.load

    def load(self, data: Buffer) -> datetime.datetime:
        # Required by the abstract class; each instance's own `load` replaces it.
        return self._c_loader.load(data)


@lru_cache(maxsize=4)
def adapters_with_utc_timestamps(template: AdaptersMap) -> AdaptersMap:
    """Django's adapters `template`, with timestamps read by the C loader. Cached like
    Django's own template: connections copy it when they open."""
    adapters = AdaptersMap(template)
    adapters.register_loader(_TIMESTAMPTZ, UtcTimestamptzLoader)
    return adapters
