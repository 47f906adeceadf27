"""Counters of failed authentication that have reached half their limit, learnt from Redis.

Reading a kept client's two counters (throttling.authentication_admit) costs a Redis round
trip, a sixth of what a token or an introspection costs under load; yet nearly always both are
far below their limit. So the reservation that takes a counter to half its limit publishes
its key, in the same atomic script (throttling._RESERVE), and one thread per process
subscribes; on (re)subscribing it also scans for the counters already there.
An attempt is admitted here only while the watch is current and neither of its counters has
been named; otherwise it reads them as before. Current means: the answer to a ping sent at
most QUIET_SECONDS ago has been read, so every message published before that ping has been
read too (a subscription delivers in order), however many were queued. A process flags its
own reservations at once, without waiting for its message.

What this gives up: an attempt is admitted here while a counter's message is on its way
(under a millisecond when the subscription keeps up; never longer than QUIET_SECONDS)
although the counter was half way. To reach the limit meanwhile, the other half of the
failures would have to be counted, each one verified against the database, in that moment.
Flags last until their window ends (the window is part of the key); a flagged counter that
fell back costs its client a read per attempt until then.
"""

import itertools
import logging
import os
import threading
import time
from collections import deque

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

NEVER = float("-inf")


def half_way(limit: int) -> int:
    """The count from which a counter is named (the reservation script computes the same)."""
    return (limit + 1) // 2


def channel(prefix: str) -> str:
    return f"{prefix}:authfail:half-way"


def key_bucket(key: str) -> int:
    """The window a counter's key belongs to: its last part (throttling._bucket_keys)."""
    return int(key.rsplit(":", 1)[-1])


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
        # time.monotonic() when the last answered ping was sent, on a subscription that has
        # scanned; -inf when there is none.
        self._heard_at = NEVER
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()
        # Seconds before the next reconnection, and whether this outage has been logged; both
        # start over once the watch is current again.
        self._retry_delay, self._outage_logged = 0.1, False

    def vouches_for(self, keys: list[str], bucket: int) -> bool:
        """Whether none of `keys`, counters of window `bucket`, has reached half its limit, as
        far as a current watch knows. False (read them) when it is not current."""
        if time.monotonic() - self._heard_at > self.QUIET_SECONDS:
            self._start()
            return False
        # Read without the lock, the flags first: `flag` moves the window (or marks it
        # overflowed) before it empties the flags, so flags read before that are checked
        # against the window they belong to, or the window is read from Redis.
        flagged = self._flagged
        # A later window named already (a clock ahead elsewhere, or this one just turning):
        # this window's flags are gone, so this window is read from Redis.
        if bucket < self._bucket or bucket <= self._overflowed_bucket:
            return False
        return not any(key in flagged for key in keys)

    def flag(self, keys: list[str]) -> None:
        if not keys:
            return
        with self._lock:
            for key in keys:
                try:
                    bucket = key_bucket(key)
                except ValueError:  # not a counter's key: no one publishes such a thing
                    continue
                if bucket > self._bucket:
                    # Counters of earlier windows no longer decide anything.
                    self._bucket = bucket
                    self._flagged = {k: b for k, b in self._flagged.items() if b >= bucket}
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
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: the counters are read, as without the watch
            log.exception("failure watch not started")

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as error:
                if not self._outage_logged:
                    log.warning("failure watch lost Redis (%s): kept-path attempts read the counters", error)
                    self._outage_logged = True
            except Exception:
                if not self._outage_logged:
                    log.exception("failure watch failed: kept-path attempts read the counters")
                    self._outage_logged = True
            self._heard_at = NEVER
            self.stopped.wait(self._retry_delay)
            self._retry_delay = min(self._retry_delay * 2, 5.0)

    def _listen(self) -> None:
        # No retries inside redis-py: a PubSub that reconnected by itself would resubscribe
        # without a scan, and the messages of the gap would be lost unnoticed.
        client = redis.Redis.from_url(
            self.url,
            socket_connect_timeout=1,
            socket_timeout=self.QUIET_SECONDS,
            decode_responses=True,
            # RESP2: a subscribed connection answers PING <n> with ["pong", n], telling which.
            protocol=2,
            retry=Retry(NoBackoff(), 0),
            client_name=f"failure-watch:{self.prefix}",
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel(self.prefix))
            self._await_subscription(pubsub)
            # After subscribing: a counter named since is in a message, one named before is here.
            self._scan(client)
            # Pings by number, with when each was sent; answers come back in order.
            unanswered: deque[tuple[str, float]] = deque()
            sequence = itertools.count()
            pinged_at = NEVER
            while not self.stopped.is_set():
                now = time.monotonic()
                if unanswered and now - unanswered[0][1] > self.QUIET_SECONDS:
                    raise redis.TimeoutError("no answer to the watch's ping")
                if now - pinged_at >= self.PING_SECONDS:
                    number = str(next(sequence))
                    pubsub.ping(number)
                    unanswered.append((number, now))
                    pinged_at = now
                message = pubsub.get_message(timeout=max(0.0, pinged_at + self.PING_SECONDS - now))
                if message is None:
                    continue
                if message["type"] == "message":
                    self.flag([message["data"]])
                elif message["type"] == "pong" and unanswered and message["data"] == unanswered[0][0]:
                    # Every message published before that ping has been read.
                    self._heard_at = unanswered.popleft()[1]
                    self._retry_delay, self._outage_logged = 0.1, False
                else:  # a resubscription (no scan), or anything this loop does not expect
                    raise redis.ConnectionError(f"unexpected {message['type']!r} on the watch's subscription")
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
        """Flag the counters already half way, of this window and the ones either side (an
        attempt may have read the clock just before it turned; another node's may be ahead);
        later ones are named by the reservations that take them there, after the subscription."""
        now = int(time.time() // settings.AUTH_FAILURE_WINDOW)
        batch: list[str] = []
        for key in client.scan_iter(match=f"{self.prefix}:authfail:*", count=1000):
            try:
                if abs(key_bucket(key) - now) > 1:
                    continue
            except ValueError:
                continue
            batch.append(key)
            if len(batch) == self.SCAN_BATCH:
                self._flag_half_way(client, batch)
                batch = []
        self._flag_half_way(client, batch)

    def _flag_half_way(self, client: redis.Redis, keys: list[str]) -> None:
        if not keys:
            return
        counts = client.mget(keys)
        self.flag(
            [
                key
                for key, count in zip(keys, counts, strict=True)
                if count is not None and int(count) >= half_way(key_limit(key))
            ]
        )


_current: FailureWatch | None = None
_current_lock = threading.Lock()


def watch(prefix: str) -> FailureWatch:
    """The watch of the configured Redis and the counters' key prefix; a new one (its thread
    started on first use) when either changed, the old one stopped."""
    global _current
    url = settings.REDIS_URL
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
