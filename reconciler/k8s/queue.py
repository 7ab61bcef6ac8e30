"""An asyncio work queue of string keys, after client-go's ``workqueue``.

Watches and the database notifier ``add`` application ids; workers ``get`` a key, reconcile it
and call ``done``. The queue guarantees what a level-triggered reconciler relies on:

- a key waiting in the queue is held once, however many events named it (events collapse);
- a key is never handed to two workers at once: adding a key while a worker processes it marks
  it dirty, and ``done`` puts it back, so the change that arrived mid-pass gets a fresh pass;
- ready keys come out in the order they were first added (no key starves);
- failures back off per key (``add_rate_limited``), exponentially and capped, until ``forget``.

Shutdown is immediate rather than draining: after ``shutdown()`` every ``get`` (waiting or not)
raises ``QueueShutDown`` even if keys are still queued, and adds are ignored. Reconciling is
level-triggered, so a key dropped at shutdown is recomputed from current state by the next
process that starts; draining would only delay a rolling restart.

Not thread-safe: call every method from the thread running the event loop (from another thread,
go through ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

__all__ = ["QueueShutDown", "WorkQueue"]

# 2**62 * any sane base delay is far past any cap; bounding the exponent keeps the float
# multiplication from overflowing for a key that has failed thousands of times.
_MAX_BACKOFF_EXPONENT = 62


class QueueShutDown(Exception):
    """Raised by ``WorkQueue.get`` once the queue has been shut down."""


class WorkQueue:
    def __init__(self, base_delay: float = 0.05, max_delay: float = 60.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: collections.deque[str] = collections.deque()
        # When each ready key joined the queue (monotonic): how long work waits, for the metrics.
        self._ready_since: dict[str, float] = {}
        # Keys that need a pass: queued ones, plus processing ones that were added again.
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        # One timer per key: the earliest requested time wins, so repeated delayed adds of the same
        # key do not pile up timers.
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[str, int] = {}
        self._shutting_down = False
        # How long the key `get` returned last had waited, ready, in the queue.
        self.last_wait = 0.0

    def __len__(self) -> int:
        """Keys ready to be handed out (not counting delayed or processing ones)."""
        return len(self._queue)

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting ready key has waited (0 when none waits): keys leave in
        the order they came, so it is the first one."""
        if not self._queue:
            return 0.0
        return time.monotonic() - self._ready_since[self._queue[0]]

    def _enqueue(self, key: str) -> None:
        self._queue.append(key)
        self._ready_since[key] = time.monotonic()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            # ``done`` re-queues it; handing it out now would run two passes of one key at once.
            return
        self._enqueue(key)
        self._wake_one()

    def add_after(self, key: str, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed (at once when ``delay <= 0``)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        self._timers[key] = (ready_at, loop.call_at(ready_at, self._fire, key))

    def add_rate_limited(self, key: str) -> float:
        """Add ``key`` after its backoff delay and count a failure; returns the delay used.

        The n-th consecutive failure (counting from 0) waits ``base_delay * 2**n``, at most
        ``max_delay``.
        """
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(failures, _MAX_BACKOFF_EXPONENT))
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """Reset the failure count of ``key`` (after a successful pass).

        A retry already scheduled still fires: it only costs one extra, idempotent pass.
        """
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str:
        """The next ready key, waiting for one; the caller must call ``done(key)`` afterwards."""
        while True:
            if self._shutting_down:
                raise QueueShutDown
            if self._queue:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # A wake-up meant for this getter must not be lost with it.
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                else:
                    self._discard_getter(waiter)
                raise
        key = self._queue.popleft()
        self.last_wait = time.monotonic() - self._ready_since.pop(key)
        self._dirty.discard(key)
        self._processing.add(key)
        # Several keys may have been added while this getter was waking; let the next one go too.
        if self._queue:
            self._wake_one()
        return key

    def done(self, key: str) -> None:
        """Mark the pass over ``key`` finished; re-queue it if it was added meanwhile."""
        if key not in self._processing:
            raise ValueError(f"key {key!r} is not being processed")
        self._processing.remove(key)
        if key in self._dirty and not self._shutting_down:
            self._enqueue(key)
            self._wake_one()

    def shutdown(self) -> None:
        """Stop handing out keys; wakes every waiting ``get``, which then raises ``QueueShutDown``."""
        self._shutting_down = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _discard_getter(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._getters.remove(waiter)
