"""Which of Redis's failed-authentication counters have reached half their limit, as this
process learns it from Redis itself: a kept-path attempt (throttling.authentication_admit)
whose counters have not needs no Redis read of its own.

Reading the two counters costs the kept path a Redis round trip, a sixth of what a token or an
introspection costs under load. Yet nearly always both are far below their limit. So every
reservation that leaves a counter at half its limit or more publishes that counter's key, in
the same atomic script (throttling._RESERVE), and one thread per process subscribes to those
messages; on (re)subscribing it also scans for counters already there. An attempt is admitted
here only while that subscription is known to be live (a word from Redis within QUIET_SECONDS:
a message, or the answer to the ping sent every PING_SECONDS) and neither of its counters has
been named; otherwise it reads them as before. A process flags its own reservations at once,
without waiting for its message.

What this gives up: an attempt is admitted here while a counter's message is on its way (well
under a millisecond, QUIET_SECONDS if the connection dies without a word) although the counter
was past half way. To reach the limit meanwhile, the other half of the failures would have to
be counted, each one verified against the database, in that moment. Flags last until their
window ends (the window is part of the key); a flagged counter that fell back costs its client
a read per attempt until then.
"""

import logging
import os
import threading
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)


def half_way(limit: int) -> int:
    """The count from which a counter is named (the reservation script computes the same)."""
    return (limit + 1) // 2


def channel(prefix: str) -> str:
    return f"{prefix}:authfail:half-way"


def key_bucket(key: str) -> int:
    """The window a counter's key belongs to: its last part (throttling._bucket_keys)."""
    return int(key.rsplit(":", 1)[1])


def key_limit(key: str) -> int:
    return (
        settings.AUTH_FAILURE_LIMIT_PER_CLIENT
        if ":authfail:client:" in key
        else settings.AUTH_FAILURE_LIMIT_PER_ADDRESS
    )


class FailureWatch:
    """The counters of one Redis (and key prefix) named half way, and the thread that listens."""

    PING_SECONDS = 1.0
    QUIET_SECONDS = 3.0
    # A window with more flagged counters than this (many addresses failing) is read from Redis.
    MAX_KEYS = 100_000
    SCAN_BATCH = 500

    def __init__(self, url: str, prefix: str):
        self.url = url
        self.prefix = prefix
        self._lock = threading.Lock()
        self._flagged: dict[str, int] = {}
        self._bucket = -1
        self._overflowed_bucket = -1
        # time.monotonic() of the last word from Redis on a subscription that has scanned; 0 when
        # there is none.
        self._heard_at = 0.0
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()

    def vouches_for(self, keys: list[str], bucket: int) -> bool:
        """Whether none of `keys`, counters of window `bucket`, has reached half its limit, as
        far as a live subscription has told. False (read them) when there is none yet."""
        if time.monotonic() - self._heard_at > self.QUIET_SECONDS:
            self._start()
            return False
        if bucket <= self._overflowed_bucket:
            return False
        flagged = self._flagged
        return not any(key in flagged for key in keys)

    def flag(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                bucket = key_bucket(key)
                if bucket > self._bucket:
                    # Counters of earlier windows no longer decide anything.
                    self._flagged = {k: b for k, b in self._flagged.items() if b >= bucket}
                    self._bucket = bucket
                if bucket < self._bucket or bucket <= self._overflowed_bucket:
                    continue
                self._flagged[key] = bucket
                if len(self._flagged) > self.MAX_KEYS:
                    self._overflowed_bucket = bucket
                    self._flagged = {}

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self.stopped.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="failure-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.1
        outage_logged = False
        while not self.stopped.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError, ValueError) as error:
                if not outage_logged:
                    log.warning("failure watch lost Redis (%s): kept-path attempts read the counters", error)
                    outage_logged = True
            else:
                outage_logged = False
            self._heard_at = 0.0
            self.stopped.wait(delay)
            delay = min(delay * 2, 5.0)

    def _listen(self) -> None:
        client = redis.Redis.from_url(
            self.url, socket_connect_timeout=1, socket_timeout=self.QUIET_SECONDS, decode_responses=True
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel(self.prefix))
            self._await_subscription(pubsub)
            # After subscribing: a counter named since is in a message, one named before is here.
            self._scan(client)
            self._heard_at = pinged_at = time.monotonic()
            while not self.stopped.is_set():
                message = pubsub.get_message(timeout=self.PING_SECONDS)
                now = time.monotonic()
                if message is not None:
                    if message["type"] == "message":
                        self.flag([message["data"]])
                    self._heard_at = now
                elif now - self._heard_at > self.QUIET_SECONDS:
                    raise redis.TimeoutError("no answer to the watch's pings")
                if now - pinged_at >= self.PING_SECONDS:
                    pubsub.ping()
                    pinged_at = now
        finally:
            pubsub.close()
            client.close()

    def _await_subscription(self, pubsub: redis.client.PubSub) -> None:
        deadline = time.monotonic() + self.QUIET_SECONDS
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=self.PING_SECONDS)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.TimeoutError("no confirmation of the watch's subscription")

    def _scan(self, client: redis.Redis) -> None:
        keys = list(client.scan_iter(match=f"{self.prefix}:authfail:*", count=1000))
        for start in range(0, len(keys), self.SCAN_BATCH):
            batch = keys[start : start + self.SCAN_BATCH]
            counts = client.mget(batch)
            self.flag(
                [
                    key
                    for key, count in zip(batch, counts, strict=True)
                    if count is not None and int(count) >= half_way(key_limit(key))
                ]
            )


_current: FailureWatch | None = None
_current_lock = threading.Lock()


def watch() -> FailureWatch:
    """The watch of the configured Redis and key prefix; a new one (its thread started on first
    use) when either changed, the old one stopped."""
    global _current
    url = settings.REDIS_URL
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    found = _current
    if found is not None and found.url == url and found.prefix == prefix:
        return found
    with _current_lock:
        if _current is not None and (_current.url, _current.prefix) != (url, prefix):
            _current.stopped.set()
            _current = None
        if _current is None:
            _current = FailureWatch(url, prefix)
        return _current


def _forget_watch() -> None:
    """In a forked child: the parent's thread is not there; the child starts its own."""
    global _current, _current_lock
    _current, _current_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_watch)
