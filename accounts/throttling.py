"""Limits on failed client authentication, per client_id and per source address.

RFC 6749 §2.3.1 makes brute-force protection a MUST at the token endpoint. Every attempt first
reserves a slot in both counters with one atomic increment (shared across nodes when REDIS_URL
is set, else held by the process); only an attempt that got a slot reaches secret verification,
and a successful one gives its slot back. So N concurrent wrong attempts against a limit of L
verify at most L secrets, a success never resets what earlier failures used, and other clients
are unaffected.

One kind of attempt asks twice, and reserves only if it must: a client's next token, or a
resource server's next introspection, from the rows this process kept at its first
(accounts.verified_clients). It first reads the counters (`authentication_admit`: one read,
nothing counted, refused at the line a reservation draws; no read at all while the process's
watch of Redis vouches that neither is even half way, see accounts.failure_watch), so a
limited attempt is refused before any secret is checked; then the kept rows, keyed hashes
compared in memory, may prove the client, and the request is answered without a slot to take
or give back. If they do not, the attempt reserves its slot as above before the database is
asked. So every failure is still counted before it is verified against the database, and at
most L are answered `401`. What reading instead of taking gives up: attempts that read the
counters while the last slots are being taken all have the secret compared, so in that moment
a right guess among them can still succeed; they are at most as many as the service's request
threads (each attempt holds one from the read to its answer); the watch adds those admitted
while a message is on its way (see its module). With 256-bit random secrets that changes nothing
about guessing; it is why the kept path is only for keyed hashes, never PBKDF2.
Windows are fixed (aligned to the clock), so `Retry-After` is exact.
"""

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from accounts import failure_watch

log = logging.getLogger(__name__)


class TooManyFailures(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


# With Redis, reserving both slots (or refusing and undoing) and giving them back are one round
# trip each, run atomically by Redis. A reservation also returns the counters it leaves at half
# their limit or more, and publishes those a granted reservation takes there
# (accounts.failure_watch): once per crossing, since a counter steps by one; a refused one
# leaves every counter as it was and publishes nothing.
_RESERVE = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'NX', 'EX', ARGV[1])
  counts[i] = redis.call('INCR', key)
end
local granted = 1
for i, key in ipairs(KEYS) do
  if counts[i] > tonumber(ARGV[i + 2]) then granted = 0 end
end
local named = {}
for i, key in ipairs(KEYS) do
  local half_way = math.floor((tonumber(ARGV[i + 2]) + 1) / 2)
  if granted == 0 then
    counts[i] = redis.call('DECR', key)
  elseif counts[i] == half_way then
    redis.call('PUBLISH', ARGV[2], key)
  end
  if counts[i] >= half_way then table.insert(named, key) end
end
return {granted, unpack(named)}
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


_per_thread = threading.local()


def _forget_connections() -> None:
    """In a forked child: its threads open their own connections, never the parent's sockets."""
    global _per_thread  # replaced whole: a thread-local cannot be cleared for every thread
    _per_thread = threading.local()


os.register_at_fork(after_in_child=_forget_connections)


@dataclass(frozen=True)
class _Redis:
    url: str
    client: redis.Redis
    reserve: redis.client.Script
    release: redis.client.Script


def _redis() -> _Redis:
    """This thread's connection to Redis and the Lua scripts over it (RedisError when it is down).

    Each thread has a connection of its own: a client taking one from a shared pool locks the
    pool and polls the socket on every call, a fifth of what a call costs here.
    """
    url = settings.REDIS_URL
    found = getattr(_per_thread, "redis", None)
    if found is None or found.url != url:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=1, single_connection_client=True
        )
        found = _per_thread.redis = _Redis(
            url, client, client.register_script(_RESERVE), client.register_script(_RELEASE)
        )
    return found


class _ProcessCounters:
    """The counters of one process, for a service without Redis (one node, as the README says).

    Django's local-memory cache would do the same with six calls, each pickling the number and
    taking the cache's lock; here reserving both slots is one lock and a few dict operations.
    Counters of an earlier window are dropped as soon as a new window starts, so memory holds
    one window's worth of client_ids and addresses, and never more than MAX_KEYS of them (the
    oldest go first, as the local-memory cache culls).
    """

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._bucket: int | None = None

    def reserve(self, buckets: list[tuple[str, int]], bucket: int) -> bool:
        """Take a slot in every counter, or in none when one is at its limit."""
        with self._lock:
            # Only forward: an attempt that read the clock just before another thread started
            # the next window must not wipe that window's counts.
            if self._bucket is None or bucket > self._bucket:
                self._counts.clear()
                self._bucket = bucket
            counts = self._counts
            if any(counts.get(key, 0) >= limit for key, limit in buckets):
                return False
            for key, _ in buckets:
                counts[key] = counts.get(key, 0) + 1
            while len(counts) > self.MAX_KEYS:
                del counts[next(iter(counts))]
            return True

    def below(self, buckets: list[tuple[str, int]], bucket: int) -> bool:
        """Whether every counter is below its limit (a counter of an earlier window is zero)."""
        with self._lock:
            if self._bucket is None or bucket > self._bucket:
                return True
            return all(self._counts.get(key, 0) < limit for key, limit in buckets)

    def release(self, keys: list[str], bucket: int) -> None:
        with self._lock:
            if bucket != self._bucket:
                return  # the window ended meanwhile: its counters are gone
            for key in keys:
                if self._counts.get(key, 0) > 0:
                    self._counts[key] -= 1


_process_counters = _ProcessCounters()


@dataclass
class Reservation:
    keys: list[str]
    bucket: int

    def release(self) -> None:
        """Give the slots back: the attempt succeeded."""
        if not self.keys:
            return
        if not settings.REDIS_URL:  # the process counts
            _process_counters.release(self.keys, self.bucket)
            return
        try:
            _redis().release(keys=self.keys)
        except redis.RedisError:
            log.warning("rate-limit cache unavailable while releasing a slot")


def _key_prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX", "")


def _bucket_keys(client_id: str, source_ip: str | None, bucket: int) -> list[tuple[str, int]]:
    """The counters an attempt counts against, under the cache's key prefix (which isolates
    services, and tests, sharing one Redis), with their limits."""
    prefix = _key_prefix()
    digest = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    keys = [(f"{prefix}:authfail:client:{digest}:{bucket}", settings.AUTH_FAILURE_LIMIT_PER_CLIENT)]
    if source_ip:
        keys.append((f"{prefix}:authfail:ip:{source_ip}:{bucket}", settings.AUTH_FAILURE_LIMIT_PER_ADDRESS))
    return keys


def _counters_now(client_id: str, source_ip: str | None) -> tuple[list[tuple[str, int]], int, int]:
    """The counters of an attempt made now with their limits, the window's number, and the
    seconds until the next window."""
    window = settings.AUTH_FAILURE_WINDOW
    now = time.time()
    bucket = int(now // window)
    return _bucket_keys(client_id, source_ip, bucket), bucket, max(1, int(window - now % window))


def authentication_slot(*, client_id: str, source_ip: str | None) -> Reservation:
    """Reserve a verification slot, or TooManyFailures with the seconds until the next window.

    If Redis is down the attempt is let through (logged): the secrets are 256-bit random
    values, so the limit protects capacity rather than the secrets, and refusing every client
    while Redis is away would turn a cache outage into a full outage.
    """
    buckets, bucket, retry_after = _counters_now(client_id, source_ip)
    if not settings.REDIS_URL:  # the process counts
        granted = _process_counters.reserve(buckets, bucket)
    else:
        prefix = _key_prefix()
        try:
            granted, *named = _redis().reserve(
                keys=[key for key, _ in buckets],
                args=[
                    settings.AUTH_FAILURE_WINDOW + 5,
                    failure_watch.channel(prefix),
                    *(limit for _, limit in buckets),
                ],
            )
        except redis.RedisError:
            log.warning("rate-limit cache unavailable: client authentication not limited")
            return Reservation([], bucket)
        # Known here at once; other processes learn it from the message.
        failure_watch.watch(prefix).flag([key.decode() if isinstance(key, bytes) else key for key in named])
    if not granted:
        raise TooManyFailures(retry_after)
    return Reservation([key for key, _ in buckets], bucket)


def authentication_admit(*, client_id: str, source_ip: str | None) -> None:
    """TooManyFailures (as `authentication_slot` gives it) once either counter is at its limit;
    nothing is counted. See the module's note: an attempt it admits may be answered only with
    a success decided in memory; anything else must reserve its slot."""
    buckets, bucket, retry_after = _counters_now(client_id, source_ip)
    if not settings.REDIS_URL:  # the process counts
        admitted = _process_counters.below(buckets, bucket)
    else:
        keys = [key for key, _ in buckets]
        if settings.AUTH_FAILURE_WATCH and failure_watch.watch(_key_prefix()).vouches_for(keys, bucket):
            return  # neither counter is even half way (see accounts.failure_watch)
        try:
            counts = _redis().client.mget(keys)
        except redis.RedisError:
            log.warning("rate-limit cache unavailable while reading the counters: attempt admitted")
            return
        admitted = all(int(count or 0) < limit for count, (_, limit) in zip(counts, buckets, strict=True))
    if not admitted:
        raise TooManyFailures(retry_after)
