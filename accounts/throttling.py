"""Limits on failed client authentication, per client_id and per source address.

RFC 6749 §2.3.1 makes brute-force protection a MUST at the token endpoint. Every attempt first
reserves a slot in both counters with one atomic increment (shared across nodes when the cache
is Redis); only an attempt that got a slot reaches secret verification, and a successful one
gives its slot back. So N concurrent wrong attempts against a limit of L verify at most L
secrets, a success never resets what earlier failures used, and other clients are unaffected.
Windows are fixed (aligned to the clock), so `Retry-After` is exact.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import cache as once

import redis
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)


class TooManyFailures(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


# With Redis, reserving both slots (or refusing and undoing) and giving them back are one round
# trip each, run atomically by Redis, instead of an add, an existence check and an increment
# per counter through the cache API.
_RESERVE = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'NX', 'EX', ARGV[1])
  counts[i] = redis.call('INCR', key)
end
for i, key in ipairs(KEYS) do
  if counts[i] > tonumber(ARGV[i + 1]) then
    for _, taken in ipairs(KEYS) do redis.call('DECR', taken) end
    return 0
  end
end
return 1
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


@once
def _redis_scripts(url: str) -> tuple[redis.client.Script, redis.client.Script]:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return client.register_script(_RESERVE), client.register_script(_RELEASE)


def _scripts() -> tuple[redis.client.Script, redis.client.Script] | None:
    """The Lua scripts when the cache is Redis (REDIS_URL), else None: the cache API is used."""
    return _redis_scripts(settings.REDIS_URL) if settings.REDIS_URL else None


@dataclass
class Reservation:
    keys: list[str]
    window: int

    def release(self) -> None:
        """Give the slots back: the attempt succeeded."""
        scripts = _scripts()
        if scripts is not None and self.keys:
            try:
                scripts[1](keys=[cache.make_key(key) for key in self.keys])
            except redis.RedisError:
                log.warning("rate-limit cache unavailable while releasing a slot")
            return
        for key in self.keys:
            try:
                cache.decr(key)
            except ValueError:
                pass  # the window ended meanwhile
            except Exception:
                log.warning("rate-limit cache unavailable while releasing a slot")


def _bucket_keys(client_id: str, source_ip: str | None, window: int, now: float) -> list[tuple[str, int]]:
    bucket = int(now // window)
    digest = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    keys = [(f"authfail:client:{digest}:{bucket}", settings.AUTH_FAILURE_LIMIT_PER_CLIENT)]
    if source_ip:
        keys.append((f"authfail:ip:{source_ip}:{bucket}", settings.AUTH_FAILURE_LIMIT_PER_ADDRESS))
    return keys


def _increment(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window + 5)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=window + 5)
        return cache.incr(key)


def authentication_slot(*, client_id: str, source_ip: str | None) -> Reservation:
    """Reserve a verification slot, or TooManyFailures with the seconds until the next window.

    If the cache is down the attempt is let through (logged): the secrets are 256-bit random
    values, so the limit protects capacity rather than the secrets, and refusing every client
    while the cache is away would turn a cache outage into a full outage.
    """
    window = settings.AUTH_FAILURE_WINDOW
    now = time.time()
    buckets = _bucket_keys(client_id, source_ip, window, now)
    scripts = _scripts()
    if scripts is not None:
        try:
            granted = scripts[0](
                keys=[cache.make_key(key) for key, _ in buckets],
                args=[window + 5, *(limit for _, limit in buckets)],
            )
        except redis.RedisError:
            log.warning("rate-limit cache unavailable: client authentication not limited")
            return Reservation([], window)
        if not granted:
            raise TooManyFailures(retry_after=max(1, int(window - now % window)))
        return Reservation([key for key, _ in buckets], window)
    reserved: list[str] = []
    try:
        for key, limit in buckets:
            count = _increment(key, window)
            reserved.append(key)
            if count > limit:
                Reservation(reserved, window).release()
                raise TooManyFailures(retry_after=max(1, int(window - now % window)))
    except TooManyFailures:
        raise
    except Exception:
        log.warning("rate-limit cache unavailable: client authentication not limited")
        return Reservation([], window)
    return Reservation(reserved, window)
