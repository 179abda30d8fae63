"""A small async token bucket for requests-per-minute and tokens-per-minute limits.

Providers enforce limits per minute with continuous refill; staying under them avoids a storm of 429s
that the retry layer would then have to absorb. The bucket refills at ``per_minute / 60`` units per
second up to ``burst`` units (default: 10 seconds' worth, at least 1), so a run starts quickly without
spending a whole minute's budget in the first second. Waiters are served first come, first served
(an ``asyncio.Lock`` queues them), so a large request is never starved by a stream of small ones. A
request waits until the bucket holds its cost (or is full, if it costs more than the bucket holds) and
is then charged its full cost, which may leave the bucket in debt: the long-run rate stays exactly the
limit, and a request larger than the burst is still served instead of waiting forever.

The clock and sleep are injectable, so tests can drive the bucket with a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        per_minute: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if per_minute <= 0:
            raise ValueError(f"rate limit must be > 0 per minute (got {per_minute})")
        self.rate = per_minute / 60.0  # units per second
        self.capacity = float(burst) if burst is not None else max(1.0, per_minute / 6.0)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock: asyncio.Lock | None = None
        self._lock_loop = None
        self.waited_s = 0.0  # total time spent waiting (for reports and tests)
        self.waits = 0  # acquisitions that had to wait

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def _get_lock(self) -> asyncio.Lock:
        # One lock per event loop: complete_many runs a fresh loop per call, and a lock that ever had a
        # waiter stays bound to the loop it was created in.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def acquire(self, amount: float = 1.0) -> None:
        need = min(float(amount), self.capacity)
        async with self._get_lock():
            self._refill()
            if self._tokens < need:
                self.waits += 1
            while self._tokens < need:
                wait = (need - self._tokens) / self.rate
                self.waited_s += wait
                await self._sleep(wait)
                self._refill()
            self._tokens -= float(amount)


class RateLimiter:
    """Both limits together: one request costs 1 from the rpm bucket and its estimated tokens from the
    tpm bucket. Either may be None (no limit)."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.rpm = TokenBucket(rpm, clock=clock, sleep=sleep) if rpm else None
        self.tpm = TokenBucket(tpm, clock=clock, sleep=sleep) if tpm else None

    async def acquire(self, tokens: float) -> None:
        if self.rpm is not None:
            await self.rpm.acquire(1.0)
        if self.tpm is not None:
            await self.tpm.acquire(tokens)

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None
