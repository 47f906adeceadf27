"""The failure watch (accounts.failure_watch): kept-path attempts skip the Redis read only while
a live subscription says neither counter is half way, and learn of other processes' failures."""

import time

import pytest
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
    watch._heard_at = time.monotonic()
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
    watch._heard_at = 0.0  # never subscribed
    assert not watch.vouches_for(["t:authfail:client:abc:7"], 7)


def test_flags_of_an_earlier_window_are_dropped_when_a_later_one_is_named():
    watch = live_watch()
    watch.flag(["t:authfail:client:abc:7"])
    watch.flag(["t:authfail:client:xyz:8"])
    assert list(watch._flagged) == ["t:authfail:client:xyz:8"]
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


def until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def subscribed(watch: FailureWatch) -> bool:
    watch.vouches_for([], 0)  # starts its thread
    return until(lambda: watch._heard_at > 0)


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


@needs_redis
def test_a_counter_named_elsewhere_reaches_the_watch_and_one_below_half_way_does_not():
    watch = failure_watch.watch()
    assert subscribed(watch)
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, address_key), bucket = counters("named-elsewhere")
    for _ in range(half_way(limit) - 1):
        reserve_elsewhere([key], [limit])
    # A message published after those would arrive after theirs: none of them named the key.
    reserve_elsewhere([address_key], [1])
    assert until(lambda: not watch.vouches_for([address_key], bucket))
    assert watch.vouches_for([key], bucket)
    reserve_elsewhere([key], [limit])
    assert until(lambda: not watch.vouches_for([key], bucket))


@needs_redis
def test_counters_half_way_before_the_watch_subscribed_are_found_by_its_scan():
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, _), bucket = counters("before-the-watch")
    (untouched, _), _ = counters("never-failed")
    for _ in range(half_way(limit)):
        reserve_elsewhere([key], [limit])
    watch = failure_watch.watch()
    assert subscribed(watch)
    assert not watch.vouches_for([key], bucket)
    assert watch.vouches_for([untouched], bucket)


@needs_redis
def test_a_reservation_here_names_its_counter_at_once(monkeypatch):
    watch = live_watch(throttling._key_prefix(), django_settings.REDIS_URL)
    monkeypatch.setattr(failure_watch, "_current", watch)  # the configured one, without its thread
    limit = django_settings.AUTH_FAILURE_LIMIT_PER_CLIENT
    (key, _), bucket = counters("reserved-here")
    for _ in range(half_way(limit)):
        throttling.authentication_slot(client_id="reserved-here", source_ip="127.0.0.1")
    assert not watch.vouches_for([key], bucket)


@needs_redis
@pytest.mark.django_db
def test_a_kept_client_reads_no_counter_until_failures_elsewhere_pass_half_its_limit(
    client, make_client, settings, monkeypatch
):
    settings.AUTH_FAILURE_LIMIT_PER_CLIENT = 4
    issued = make_client("manager")
    kept(client, issued)
    assert subscribed(failure_watch.watch())
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
    assert until(lambda: not failure_watch.watch().vouches_for([key], bucket))
    assert token(client, issued).status_code == 200
    assert len(reads) == 1
    reserve_elsewhere([key], [4])
    reserve_elsewhere([key], [4])
    limited = token(client, issued)
    assert limited.status_code == 429
    assert len(reads) == 2
