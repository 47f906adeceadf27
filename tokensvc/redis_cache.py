"""Django's Redis cache backend, building one redis-py client per connection pool, not per call.

Django's backend builds a new `redis.Redis` for every cache operation. Building one fills its
table of response callbacks (about 170 commands, each name upper-cased into a case-insensitive
dict): on a list page, whose total comes from the cache, that cost more of the worker's CPU
than the Redis round trip itself. A client holds no connection of its own (it takes one from
its pool for each command and gives it back), so keeping it changes nothing else: Django's
cache handler still gives each thread a backend, pools and clients of its own, and a replica
is still picked per call (the pool first, then its client); the pool reconnects after a fork.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """`CACHES` backend: `tokensvc.redis_cache.RedisCache`, with Django's options."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
