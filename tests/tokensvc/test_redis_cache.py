"""The Redis cache backend: Django's, with one redis-py client per connection pool."""

import threading

import pytest
from django.conf import settings
from django.core.cache import caches

from tokensvc.redis_cache import RedisCache

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")


@needs_redis
def test_every_call_uses_the_same_client():
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    cache.set("one-client", 1)
    client = cache._cache.get_client()
    assert cache.get("one-client") == 1
    assert cache._cache.get_client() is client
    assert cache._cache.get_client("one-client", write=True) is client


@needs_redis
def test_values_round_trip_through_the_backend():
    cache = caches["default"]
    cache.set("total", 41, 30)
    assert cache.incr("total") == 42
    cache.set("record", {"id": 7, "banking": {"iban": "DE89370400440532013000"}}, 30)
    assert cache.get_many(["total", "record", "absent"]) == {
        "total": 42,
        "record": {"id": 7, "banking": {"iban": "DE89370400440532013000"}},
    }
    assert cache.add("total", 0) is False
    cache.delete("total")
    assert cache.get("total", "gone") == "gone"


@needs_redis
def test_each_thread_keeps_a_client_of_its_own_and_reads_its_own_values():
    # As under gunicorn's threads: each thread's cache handler gives it a backend of its own.
    clients: dict[int, set[int]] = {}
    problems = []

    def work(number: int) -> None:
        cache = caches["default"]
        seen = clients.setdefault(number, set())
        for round_ in range(50):
            cache.set(f"thread-{number}", round_, 30)
            if cache.get(f"thread-{number}") != round_:
                problems.append((number, round_))
            seen.add(id(cache._cache.get_client()))

    threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert all(len(seen) == 1 for seen in clients.values()), clients
    assert len(set().union(*clients.values())) == 4
    assert [caches["default"].get(f"thread-{number}") for number in range(4)] == [49] * 4
