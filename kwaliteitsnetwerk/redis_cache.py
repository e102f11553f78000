"""Django's Redis cache, degrading instead of failing when Redis does not answer.

Every cache in settings (the default one, which holds allauth's rate limits, and the cached
fragments) uses this backend when REDIS_URL is set. Its Redis client has short connect and read
timeouts (settings), so a hanging Redis costs one timeout, not the length of the hang. When
Redis fails, this process remembers it for QUIET seconds and meanwhile serves every call from its
own memory: pages render (a fragment is computed and kept locally, keyed by the same versions),
and rate limits keep counting per process — a safe local behaviour, said in the log — instead of
a 500. Then Redis is asked again.
"""

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

QUIET = 10.0  # seconds without trying Redis after it failed
_lock = threading.Lock()
_down_until: dict[str, float] = {}  # per server, for every cache (and thread) of this process


class FallbackRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._server_key = str(server)
        local = {key: value for key, value in params.items() if key != "OPTIONS"}
        self._local = LocMemCache(f"redis-fallback:{server}:{params.get('KEY_PREFIX', '')}", local)

    def _down(self) -> bool:
        return time.monotonic() < _down_until.get(self._server_key, 0.0)

    def _failed(self, exc: Exception) -> None:
        with _lock:
            was_up = not self._down()
            _down_until[self._server_key] = time.monotonic() + QUIET
        if was_up:
            logger.warning(
                "Redis cache unreachable (%s: %s): for %.0f s the cache and the rate limits "
                "use this process's memory only",
                type(exc).__name__,
                exc,
                QUIET,
            )


def _guarded(name: str):
    remote = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        if not self._down():
            try:
                return remote(self, *args, **kwargs)
            except RedisError as exc:
                self._failed(exc)
        return getattr(self._local, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = remote.__doc__
    return method


for _name in (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
):
    setattr(FallbackRedisCache, _name, _guarded(_name))
