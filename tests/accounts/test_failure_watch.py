"""The failure watch (accounts.failure_watch): kept-path attempts skip the Redis read only while
a current subscription says neither counter is half way, and learn of other processes' failures."""

import os
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import given
from hypothesis import strategies as st

from accounts import failure_watch, throttling
from accounts.failure_watch import FailureWatch, half_way
from tests.tokensvc.test_verified_clients import kept, token

needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs Redis (REDIS_URL): without it each process counts for itself"
)


@given(st.integers(min_value=1, max_value=10**9))
def test_half_way_is_reached_before_the_limit_and_never_at_zero(limit):
    assert 1 <= half_way(limit) <= limit
    assert half_way(limit) * 2 >= limit


def live_watch(prefix: str = "t", url: str = "redis://127.0.0.1:1/0") -> FailureWatch:
    """A watch that believes it has just heard from Redis, and starts no thread."""
    watch = FailureWatch(url, prefix)
    watch.stopped.set()
    watch._heard_at = float("inf")  # however long the test takes
    return watch


def test_a_live_watch_vouches_only_for_counters_never_named():
    watch = live_watch()
    watch.flag(["t:authfail:client:abc:7"])
    assert watch.vouches_for(["t:authfail:client:def:7", "t:authfail:ip:10.0.0.1:7"], 7)
    assert not watch.vouches_for(["t:authfail:client:abc:7", "t:authfail:ip:10.0.0.1:7"], 7)
    assert not watch.vouches_for(["t:authfail:client:def:7", "t:authfail:client:abc:7"], 7)


def test_a_watch_not_heard_from_lately_vouches_for_nothing():
    watch = live_watch()
    assert watch.vouches_for(["t:authfail:client:abc:7"], 7)
    watch._heard_at = time.monotonic() - FailureWatch.QUIET_SECONDS - 0.1
    assert not watch.vouches_for(["t:authfail:client:abc:7"], 7)
    watch._heard_at = failure_watch.NEVER  # never subscribed
    assert not watch.vouches_for(["t:authfail:client:abc:7"], 7)


def test_a_later_window_named_drops_the_earlier_ones_flags_and_leaves_it_to_be_read():
    """A clock ahead elsewhere, or the window turning: the earlier window's flags are gone."""
    watch = live_watch()
    watch.flag(["t:authfail:client:abc:7"])
    watch.flag(["t:authfail:client:xyz:8"])
    assert list(watch._flagged) == ["t:authfail:client:xyz:8"]
    assert not watch.vouches_for(["t:authfail:client:abc:7"], 7)
    assert not watch.vouches_for(["t:authfail:client:never-named:7"], 7)
    assert watch.vouches_for(["t:authfail:client:never-named:8"], 8)
    # A late message of the earlier window is not kept either.
    watch.flag(["t:authfail:client:abc:7"])
    assert list(watch._flagged) == ["t:authfail:client:xyz:8"]


def test_a_window_with_too_many_named_counters_is_read_from_redis(monkeypatch):
    monkeypatch.setattr(FailureWatch, "MAX_KEYS", 3)
    watch = live_watch()
    watch.flag([f"t:authfail:ip:10.0.0.{n}:7" for n in range(4)])
    assert not watch.vouches_for(["t:authfail:client:never-named:7"], 7)
    watch.flag(["t:authfail:ip:10.0.0.9:7"])  # still that window
    assert not watch.vouches_for(["t:authfail:client:never-named:7"], 7)
    assert watch.vouches_for(["t:authfail:client:never-named:8"], 8)


def test_what_is_not_a_counter_key_is_ignored():
    watch = live_watch()
    watch.flag(["no-window-here", "t:authfail:client:abc:7"])
    assert list(watch._flagged) == ["t:authfail:client:abc:7"]


def until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def current(watch: FailureWatch) -> bool:
    """Whether the watch becomes current (its thread started by the first question)."""
    return until(lambda: watch.vouches_for([], 0))


@pytest.fixture
def mid_window(monkeypatch):
    """The clock held in the middle of the current window: no test sees its window turn."""
    window = django_settings.AUTH_FAILURE_WINDOW
    middle = (time.time() // window) * window + window / 2
    monkeypatch.setattr(throttling.time, "time", lambda: middle)


def configured_watch() -> FailureWatch:
    return failure_watch.watch(throttling._key_prefix())


def counters(client_id: str, source_ip: str = "127.0.0.1") -> tuple[list[str], int]:
    buckets, bucket, _ = throttling._counters_now(client_id, source_ip)
    return [key for key, _ in buckets], bucket


def reserve_elsewhere(keys: list[str], limits: list[int]) -> int:
    """A reservation as another process makes it: the script alone, nothing flagged here."""
    granted, *_ = throttling._redis().reserve(
        keys=keys,
        args=[60, failure_watch.channel(throttling._key_prefix()), *limits],
    )
    return granted


def named(watch: FailureWatch, key: str, bucket: int) -> bool:
    return key in watch._flagged and not watch.vouches_for([key], bucket)


@needs_redis
def test_a_counter_named_elsewhere_reaches_the_watch_and_one_below_half_way_does_not(mid_window):
    watch = configured_watch()
    assert current(watch)
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, address_key), bucket = counters("named-elsewhere")
    for _ in range(half_way(limit) - 1):
        reserve_elsewhere([key], [limit])
    # A message published after those would arrive after theirs: none of them named the key.
    reserve_elsewhere([address_key], [1])
    assert until(lambda: named(watch, address_key, bucket))
    assert key not in watch._flagged
    reserve_elsewhere([key], [limit])
    assert until(lambda: named(watch, key, bucket))


@needs_redis
def test_a_counter_is_published_once_as_it_reaches_half_way_not_on_every_refusal(mid_window):
    listener = throttling._redis().client.pubsub()
    listener.subscribe(failure_watch.channel(throttling._key_prefix()))
    (key, _), _ = counters("refused-again-and-again")
    granted = [reserve_elsewhere([key], [4]) for _ in range(10)]
    assert granted == [1] * 4 + [0] * 6
    # Refused by one counter, another one step below half way: it is left there, unnamed.
    (_, address_key), _ = counters("refused-by-its-other-counter", source_ip="10.9.8.7")
    for _ in range(half_way(10) - 1):
        reserve_elsewhere([address_key], [10])
    assert reserve_elsewhere([key, address_key], [4, 10]) == 0
    assert int(throttling._redis().client.get(address_key)) == half_way(10) - 1
    messages = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            messages.append(message["data"].decode())
    listener.close()
    assert messages == [key]


@needs_redis
def test_counters_half_way_before_the_watch_subscribed_are_found_by_its_scan(mid_window):
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, _), bucket = counters("before-the-watch")
    (below, _), _ = counters("below-half-way")
    for _ in range(half_way(limit)):
        reserve_elsewhere([key], [limit])
    reserve_elsewhere([below], [limit])
    watch = configured_watch()
    assert until(lambda: watch.vouches_for([below], bucket))
    assert named(watch, key, bucket)


@needs_redis
def test_a_watch_that_lost_its_connection_vouches_for_nothing_until_it_is_current_again(mid_window):
    watch = configured_watch()
    assert current(watch)
    redis_client = throttling._redis().client
    name = f"failure-watch:{throttling._key_prefix()}"

    def subscriptions() -> list[str]:
        return [c["id"] for c in redis_client.client_list() if c["name"] == name and c["sub"] == "1"]

    (lost,) = subscriptions()
    redis_client.client_kill_filter(_id=lost)
    # At once, not after QUIET_SECONDS without an answer.
    assert until(lambda: not watch.vouches_for([], 0), seconds=FailureWatch.QUIET_SECONDS / 2)
    assert current(watch)
    assert len(subscriptions()) == 1
    assert subscriptions() != [lost]


@needs_redis
def test_a_reservation_here_names_its_counter_at_once(monkeypatch, mid_window):
    watch = live_watch(throttling._key_prefix(), django_settings.REDIS_URL)
    monkeypatch.setattr(failure_watch, "_current", watch)  # the configured one, without its thread
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, _), bucket = counters("reserved-here")
    for _ in range(half_way(limit) - 1):
        throttling.authentication_slot(client_id="reserved-here", source_ip="127.0.0.1")
    assert watch.vouches_for([key], bucket)
    throttling.authentication_slot(client_id="reserved-here", source_ip="127.0.0.1")
    assert named(watch, key, bucket)


@needs_redis
@pytest.mark.django_db
def test_a_kept_client_reads_no_counter_until_failures_elsewhere_pass_half_its_limit(
    client, make_client, settings, monkeypatch, mid_window
):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 4
    issued = make_client("manager")
    kept(client, issued)
    assert current(configured_watch())
    reads = []
    redis_client = throttling._redis().client
    real_mget = redis_client.mget
    monkeypatch.setattr(redis_client, "mget", lambda keys: (reads.append(keys), real_mget(keys))[1])
    assert token(client, issued).status_code == 200
    assert reads == []
    # Another process counts this client's failures: two of four, then the other two.
    (key, _), bucket = counters(issued.client.client_id)
    reserve_elsewhere([key], [4])
    reserve_elsewhere([key], [4])
    assert until(lambda: named(configured_watch(), key, bucket))
    assert token(client, issued).status_code == 200
    assert len(reads) == 1
    reserve_elsewhere([key], [4])
    reserve_elsewhere([key], [4])
    limited = token(client, issued)
    assert limited.status_code == 429
    assert len(reads) == 2


def cpu_seconds_of(thread) -> float:
    fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@needs_redis
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads a thread's CPU time in /proc (Linux)")
def test_a_current_watch_waits_between_pings_instead_of_spinning():
    watch = configured_watch()
    assert current(watch)
    before = cpu_seconds_of(watch._thread)
    time.sleep(2 * FailureWatch.PING_SECONDS)
    # Two pings and their answers: a few milliseconds. Pinging again at each answer: most of it.
    assert cpu_seconds_of(watch._thread) - before < 0.2


@needs_redis
@pytest.mark.django_db
def test_with_the_watch_off_a_kept_client_reads_its_counters(client, make_client, settings, monkeypatch):
    """AUTH_FAILURE_WATCH=false: while some node still runs reservations that publish nothing."""
    issued = make_client("manager")
    kept(client, issued)
    assert current(configured_watch())
    settings.AUTH_FAILURE_WATCH = False
    reads = []
    redis_client = throttling._redis().client
    real_mget = redis_client.mget
    monkeypatch.setattr(redis_client, "mget", lambda keys: (reads.append(keys), real_mget(keys))[1])
    assert token(client, issued).status_code == 200
    assert len(reads) == 1


class ScriptedPubSub:
    """A subscription that answers with `script` (messages, or callables giving one), then
    stops its watch; it records the pings sent."""

    def __init__(self, watch: FailureWatch, script: list):
        self.watch, self.script, self.pings = watch, list(script), []

    def subscribe(self, channel):
        pass

    def ping(self, number):
        self.pings.append(number)

    def get_message(self, timeout):
        if not self.script:
            self.watch.stopped.set()
            return None
        item = self.script.pop(0)
        return item() if callable(item) else item

    def close(self):
        pass


class ScriptedRedis:
    def __init__(self, pubsub):
        self._pubsub = pubsub

    def pubsub(self):
        return self._pubsub

    def scan_iter(self, match, count):
        return iter(())

    def close(self):
        pass


def listened(monkeypatch, script: list) -> tuple[FailureWatch, ScriptedPubSub]:
    watch = FailureWatch("redis://scripted", "t")
    pubsub = ScriptedPubSub(watch, script)
    monkeypatch.setattr(failure_watch.redis.Redis, "from_url", lambda *args, **kwargs: ScriptedRedis(pubsub))
    return watch, pubsub


def test_a_backlog_of_messages_does_not_make_the_watch_current_only_the_pings_answer(monkeypatch):
    seen = []
    watch, pubsub = None, None

    def message(n):
        def read():
            seen.append(watch._heard_at)
            return {"type": "message", "data": f"t:authfail:client:k{n}:7"}

        return read

    watch, pubsub = listened(
        monkeypatch,
        [{"type": "subscribe", "data": 1}, *(message(n) for n in range(50)), {"type": "pong", "data": "0"}],
    )
    watch._listen()
    assert pubsub.pings[0] == "0"
    assert seen == [failure_watch.NEVER] * 50
    assert watch._heard_at > failure_watch.NEVER
    assert len(watch._flagged) == 50


@pytest.mark.parametrize(
    "unexpected",
    [{"type": "pong", "data": "7"}, {"type": "subscribe", "data": 1}, {"type": "unsubscribe", "data": 0}],
    ids=["an answer to no ping sent", "a resubscription", "an unsubscription"],
)
def test_anything_unexpected_on_the_subscription_ends_it_without_making_it_current(monkeypatch, unexpected):
    watch, _ = listened(
        monkeypatch, [{"type": "subscribe", "data": 1}, unexpected, {"type": "pong", "data": "0"}]
    )
    with pytest.raises(redis.ConnectionError):
        watch._listen()
    assert watch._heard_at == failure_watch.NEVER
