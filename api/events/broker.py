"""The event broker: committed changes go out to every subscriber, in this process or (through Redis) in all.

The unit of work hands each committed batch of audit events to `Broker.publish` (an after-commit
hook). Without Redis the broker fans them out to this process's subscribers; with
RESOLUTE_REDIS_URL it publishes them on one Redis channel and every process (this one too)
fans out what it receives, so a change made on one server reaches a subscriber on another.

An event says only what changed and where (action, object type and key, unit): every
subscriber decides by reading the object back through its own scope, so nothing reaches a
subscriber outside its scope. Each subscriber has a bounded queue: one that does not keep up
is marked overflowed (its subscription then ends and the client re-reads), so a slow client
never makes the server's memory grow.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from resolute.api.audit.chain import Event

__all__ = ["CHANNEL", "Broker", "Change", "Subscriber"]

log = logging.getLogger("resolute.events")

CHANNEL = "resolute:changes"  # followed by the Redis database number: pub/sub channels ignore databases
QUEUE_SIZE = 256
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Change:
    """One committed change, as it travels between processes."""

    action: str
    object_type: str
    object_key: str
    unit_id: int | None
    occurred_at: str  # ISO 8601

    @classmethod
    def of(cls, event: Event) -> Change:
        return cls(action=event.action, object_type=event.object_type, object_key=str(event.object_key), unit_id=event.unit_id,
                   occurred_at=event.occurred_at.isoformat())


class Subscriber:
    """One subscription's inbox: bounded; `overflowed` once a change had to be dropped."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, change: Change) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True


class Broker:
    def __init__(self, redis_url: str = "", queue_size: int = QUEUE_SIZE) -> None:
        self.redis_url = redis_url
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self.channel = CHANNEL  # one per Redis database (see start), so deployments on one server stay apart
        self._ready = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.redis_url:
            return
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.redis_url)
        self.channel = f"{CHANNEL}:{self._redis.connection_pool.connection_kwargs.get('db', 0)}"
        self._listener = asyncio.create_task(self._listen(), name="resolute-events")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=5)
        except TimeoutError:
            log.warning("Redis at %s is not answering yet; live events will flow once it does", self.redis_url)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()

    # -- in ----------------------------------------------------------------------------------
    async def publish(self, events: Sequence[Event]) -> None:
        """The after-commit hook: every process's subscribers hear of these changes."""
        changes = [Change.of(e) for e in events]
        if self._redis is None:
            self._fan_out(changes)
            return
        await self._redis.publish(self.channel, json.dumps([asdict(c) for c in changes]))

    async def _listen(self) -> None:
        """Receive every process's changes from Redis, reconnecting after a failure."""
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.channel)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        changes = [Change(**c) for c in json.loads(message["data"])]
                    except (ValueError, TypeError):
                        log.warning("ignored a malformed message on %s", self.channel)
                        continue
                    self._fan_out(changes)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live events: Redis listener failed; retrying in %s s", RETRY_SECONDS, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)

    # -- out ---------------------------------------------------------------------------------
    def _fan_out(self, changes: Sequence[Change]) -> None:
        for subscriber in list(self._subscribers):
            for change in changes:
                subscriber.offer(change)

    @contextmanager
    def subscribe(self) -> Iterator[Subscriber]:
        subscriber = Subscriber(self.queue_size)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
