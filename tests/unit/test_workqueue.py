"""The work queue: dedup, FIFO, one pass per key at a time, backoff and shutdown.

Each test drives its own event loop with ``asyncio.run``. Timing assertions use short real delays
with wide bounds, and every wait is capped by ``asyncio.wait_for`` so a bug fails instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from reconciler.k8s.queue import QueueShutDown, WorkQueue

# Far above any delay used here; only reached when the queue is broken.
TIMEOUT = 5.0


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), TIMEOUT * 2))


async def get(queue: WorkQueue) -> str:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


async def nothing_ready(queue: WorkQueue, within: float = 0.05) -> bool:
    try:
        key = await asyncio.wait_for(queue.get(), within)
    except TimeoutError:
        return True
    queue.done(key)
    return False


def test_add_deduplicates_waiting_keys() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        for key in ["a", "b", "a", "a", "b"]:
            queue.add(key)
        assert len(queue) == 2
        assert await get(queue) == "a"
        assert await get(queue) == "b"
        assert len(queue) == 0
        assert await nothing_ready(queue)

    run(scenario)


def test_ready_keys_come_out_in_first_added_order() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        keys = [f"app-{i}" for i in range(20)]
        for key in keys:
            queue.add(key)
        # Re-adding a waiting key does not move it to the back.
        queue.add("app-0")
        assert [await get(queue) for _ in keys] == keys

    run(scenario)


def test_get_waits_for_an_add() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        getter = asyncio.create_task(get(queue))
        await asyncio.sleep(0.01)
        assert not getter.done()
        queue.add("a")
        assert await getter == "a"

    run(scenario)


def test_key_added_while_processing_is_requeued_on_done() -> None:
    async def scenario() -> None:
        queue, key = await readded_while_processing("a")
        queue.add("a")
        # Held back, not handed to another worker, while the first pass runs.
        assert len(queue) == 0
        assert await nothing_ready(queue)
        queue.done(key)
        assert len(queue) == 1
        assert await get(queue) == "a"
        queue.done("a")
        assert await nothing_ready(queue)

    run(scenario)


def test_done_without_new_add_does_not_requeue() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        queue.add("a")
        queue.done(await get(queue))
        assert len(queue) == 0

    run(scenario)


def test_done_of_a_key_not_being_processed_is_an_error() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        queue.add("a")
        with pytest.raises(ValueError, match="not being processed"):
            queue.done("a")

    run(scenario)


def test_no_key_is_processed_by_two_workers_at_once() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        active: set[str] = set()
        passes: dict[str, int] = {}
        overlaps: list[str] = []
        idle = asyncio.Event()

        async def worker() -> None:
            async for key in handed_out(queue):
                if key in active:
                    overlaps.append(key)
                active.add(key)
                passes[key] = passes.get(key, 0) + 1
                # Yield so other workers run (and producers add) mid-pass.
                await asyncio.sleep(0.001)
                active.discard(key)
                queue.done(key)
                if not active and len(queue) == 0:
                    idle.set()

        workers = [asyncio.create_task(worker()) for _ in range(8)]
        rounds = 20
        for _ in range(rounds):
            # A burst of events per key with no await in between: one pass at most per burst.
            for _ in range(5):
                for key in ("a", "b", "c"):
                    queue.add(key)
            await asyncio.sleep(0.0005)
        idle.clear()
        await asyncio.wait_for(idle.wait(), TIMEOUT)
        queue.shutdown()
        await asyncio.wait_for(asyncio.gather(*workers), TIMEOUT)
        assert overlaps == []
        assert set(passes) == {"a", "b", "c"}
        assert all(count <= rounds for count in passes.values())

    run(scenario)


def test_every_added_key_reaches_a_worker() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        keys = [f"k{i}" for i in range(50)]
        seen: list[str] = []
        all_seen = asyncio.Event()

        async def worker() -> None:
            async for key in handed_out(queue):
                seen.append(key)
                await asyncio.sleep(0)
                queue.done(key)
                if len(seen) == len(keys):
                    all_seen.set()

        workers = [asyncio.create_task(worker()) for _ in range(3)]
        await asyncio.sleep(0.01)
        for key in keys:
            queue.add(key)
        await asyncio.wait_for(all_seen.wait(), TIMEOUT)
        queue.shutdown()
        await asyncio.wait_for(asyncio.gather(*workers), TIMEOUT)
        assert sorted(seen) == sorted(keys)

    run(scenario)


async def handed_out(queue: WorkQueue) -> AsyncIterator[str]:
    """The keys one worker is handed, until the queue shuts down."""
    while True:
        try:
            yield await queue.get()
        except QueueShutDown:
            return


async def readded_while_processing(key: str) -> tuple[WorkQueue, str]:
    """A queue whose worker holds `key`, which was added again meanwhile."""
    queue = WorkQueue()
    queue.add(key)
    held = await get(queue)
    queue.add(key)
    return queue, held


async def arrives_after(queue: WorkQueue, start: float, seconds: float) -> None:
    """Key "a" is not queued yet, and arrives no sooner than `seconds` after `start`."""
    assert len(queue) == 0
    assert await get(queue) == "a"
    # Timers may fire up to the loop's clock resolution early, never much sooner.
    assert asyncio.get_running_loop().time() - start >= seconds


def test_add_after_delays_the_key() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue.add_after("a", 0.1)
        await arrives_after(queue, start, 0.09)

    run(scenario)


def test_add_after_without_delay_adds_at_once() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        queue.add_after("a", 0)
        queue.add_after("b", -1)
        assert len(queue) == 2

    run(scenario)


def test_repeated_add_after_keeps_the_earliest_time() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        loop = asyncio.get_running_loop()
        start = loop.time()
        queue.add_after("a", 3.0)
        queue.add_after("a", 0.05)
        queue.add_after("a", 4.0)
        assert await get(queue) == "a"
        assert loop.time() - start < 2.0
        queue.done("a")
        # The later requests were folded into the one that fired.
        assert await nothing_ready(queue, within=0.2)

    run(scenario)


def test_backoff_doubles_per_failure_and_is_capped() -> None:
    async def scenario() -> None:
        queue = WorkQueue(base_delay=0.05, max_delay=1.0)
        delays = [queue.add_rate_limited("a") for _ in range(8)]
        assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
        assert queue.failures("a") == 8
        # Per key: another key starts from the base delay.
        assert queue.add_rate_limited("b") == 0.05
        queue.shutdown()

    run(scenario)


def test_backoff_survives_very_many_failures() -> None:
    async def scenario() -> None:
        queue = WorkQueue(base_delay=0.05, max_delay=60.0)
        for _ in range(2000):
            delay = queue.add_rate_limited("a")
        assert delay == 60.0
        queue.shutdown()

    run(scenario)


def test_rate_limited_add_waits_for_its_delay() -> None:
    async def scenario() -> None:
        queue = WorkQueue(base_delay=0.05, max_delay=10.0)
        loop = asyncio.get_running_loop()
        queue.add_rate_limited("a")
        queue.done(await get(queue))
        start = loop.time()
        # Second failure: twice the base delay.
        assert queue.add_rate_limited("a") == pytest.approx(0.1)
        await arrives_after(queue, start, 0.09)

    run(scenario)


def test_forget_resets_the_failure_count() -> None:
    async def scenario() -> None:
        queue = WorkQueue(base_delay=0.01, max_delay=1.0)
        for _ in range(4):
            queue.add_rate_limited("a")
        assert queue.failures("a") == 4
        queue.forget("a")
        assert queue.failures("a") == 0
        assert queue.add_rate_limited("a") == 0.01
        queue.forget("never-seen")
        assert queue.failures("never-seen") == 0
        queue.shutdown()

    run(scenario)


def test_shutdown_wakes_every_waiting_getter() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        getters = [asyncio.create_task(queue.get()) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert not any(task.done() for task in getters)
        queue.shutdown()
        results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), TIMEOUT)
        assert all(isinstance(result, QueueShutDown) for result in results)

    run(scenario)


def test_shutdown_is_immediate_and_ignores_later_adds() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        queue.add("a")
        queue.add("b")
        assert queue.shutting_down is False
        queue.shutdown()
        assert queue.shutting_down is True
        with pytest.raises(QueueShutDown):
            await get(queue)
        queue.add("c")
        queue.add_after("d", 0.01)
        queue.add_rate_limited("e")
        with pytest.raises(QueueShutDown):
            await get(queue)

    run(scenario)


def test_shutdown_cancels_delayed_adds_and_lets_workers_finish() -> None:
    async def scenario() -> None:
        queue, key = await readded_while_processing("a")
        queue.add_after("b", 0.02)
        queue.shutdown()
        await asyncio.sleep(0.05)
        # The pass in flight still ends cleanly, and nothing is re-queued.
        queue.done(key)
        assert len(queue) == 0

    run(scenario)


def test_a_cancelled_getter_does_not_swallow_a_key() -> None:
    async def scenario() -> None:
        queue = WorkQueue()
        first = asyncio.create_task(queue.get())
        second = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        # Wake the first waiter, then cancel it before it runs: the key must go to the second.
        queue.add("a")
        first.cancel()
        assert await asyncio.wait_for(second, TIMEOUT) == "a"
        with pytest.raises(asyncio.CancelledError):
            await first

    run(scenario)
