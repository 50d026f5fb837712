"""Rate limits: how much a key (a caller, a client address) may spend over a window.

The generic cell rate algorithm (GCRA): each key keeps one instant, its "theoretical arrival time"
(TAT). Spending `cost` out of `amount` per `per` seconds moves it `cost * per / amount` seconds on,
from now at the earliest; a spend that would put it more than `per` ahead of now is refused, and the
excess is how long to wait. So a key may burst its whole allowance at once, then earns it back
steadily; one number per key, no buckets to sweep.

In memory by default (one process); in Redis when RESOLUTE_REDIS_URL is set, so that every process
counts together (one Lua script, atomic, on Redis's clock). If Redis does not answer, requests pass
(logged): a rate limit must not turn a Redis outage into a service outage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["MemoryLimiter", "Rate", "RateLimiter", "RedisLimiter", "Verdict", "cost_allowance", "login_allowance", "make_limiter"]

log = logging.getLogger("resolute.rate_limit")


@dataclass(frozen=True)
class Rate:
    amount: int  # what may be spent...
    per: float  # ...over this many seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds before the same spend would pass (0 when allowed)
    remaining: int  # what may still be spent at once, after this spend


class RateLimiter(Protocol):
    async def spend(self, key: str, cost: int, rate: Rate, *, dry_run: bool = False) -> Verdict:
        """Spend `cost` from `key`'s allowance if it suffices (`dry_run`: only tell whether it would)."""
        ...

    async def close(self) -> None: ...


def _whole(units: float) -> int:
    """Whole units of allowance, forgiving the float error of a tiny interval (60 s / 5,000,000)."""
    return max(0, math.floor(round(units, 6)))


def _decide(tat: float, now: float, cost: int, rate: Rate) -> tuple[Verdict, float]:
    """The verdict and the key's next TAT (unchanged when refused)."""
    interval = rate.per / rate.amount
    start = max(tat, now)
    new_tat = start + cost * interval
    ahead = new_tat - now
    if ahead > rate.per + 1e-9:
        return Verdict(False, ahead - rate.per, _whole((rate.per - (start - now)) / interval)), tat
    return Verdict(True, 0.0, _whole((rate.per - ahead) / interval)), new_tat


class MemoryLimiter:
    """This process's counts (lost at restart, not shared with other processes)."""

    MAX_KEYS = 100_000

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._clock = clock

    async def spend(self, key: str, cost: int, rate: Rate, *, dry_run: bool = False) -> Verdict:
        now = self._clock()
        verdict, tat = _decide(self._tat.get(key, now), now, cost, rate)
        if verdict.allowed and not dry_run:
            if len(self._tat) >= self.MAX_KEYS and key not in self._tat:
                self._tat = {k: v for k, v in self._tat.items() if v > now}  # keys back to a full allowance hold nothing
            self._tat[key] = tat
        return verdict

    async def close(self) -> None:
        return None


# KEYS[1]: the key; ARGV: interval (µs per unit), period (µs), cost, dry run (1/0). Returns {allowed, µs}:
# when allowed, the µs of allowance left after the spend; when refused, the µs to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local ahead = tat + cost * interval - now
if ahead > period then return {0, math.ceil(ahead - period)} end
if ARGV[4] ~= '1' then
  redis.call('SET', KEYS[1], string.format('%.0f', now + ahead), 'PX', math.ceil(ahead / 1000) + 1)
end
return {1, math.floor(period - ahead)}
"""


class RedisLimiter:
    """Counts shared by every process through Redis."""

    PREFIX = "resolute:rate:"

    def __init__(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_GCRA)
        self._warned_at = 0.0

    async def spend(self, key: str, cost: int, rate: Rate, *, dry_run: bool = False) -> Verdict:
        interval = rate.per * 1_000_000 / rate.amount
        try:
            allowed, micros = await self._script(keys=[self.PREFIX + key], args=[interval, rate.per * 1_000_000, cost, 1 if dry_run else 0])
        except Exception as exc:  # noqa: BLE001 - any Redis failure: let the request pass
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limits are not enforced: Redis does not answer (%s)", exc)
            return Verdict(True, 0.0, 0)
        if int(allowed):
            return Verdict(True, 0.0, _whole(int(micros) / interval))
        return Verdict(False, int(micros) / 1_000_000, 0)

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str) -> RateLimiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()


# -- the service's two allowances ------------------------------------------------------------------


def cost_allowance(settings: Any, user_id: int) -> tuple[str, Rate] | None:
    """The key and rate a caller's requests spend their computed cost from (schema.cost), or None: no limit."""
    if settings.rate_limit_cost <= 0:
        return None
    return f"cost:{user_id}", Rate(settings.rate_limit_cost, settings.rate_limit_window_seconds)


def login_allowance(settings: Any, address: str) -> tuple[str, Rate] | None:
    """The key and rate a client address's wrong logins spend from (api.auth.routes), or None: no limit."""
    if settings.login_address_failures <= 0:
        return None
    return f"login:{address}", Rate(settings.login_address_failures, settings.login_address_window_seconds)
