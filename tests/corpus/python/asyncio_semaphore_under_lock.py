# expect: wait-cycle
"""An asyncio task waits for a semaphore while holding a lock that the task which
releases the semaphore takes first. In this run the releaser took the lock before
the waiter did, so it only had to release the semaphore later; had the waiter taken
the lock first, neither task would ever run again."""

import asyncio


async def main():
    state = asyncio.Lock()
    ready = asyncio.Semaphore(0)

    async def prepare():
        async with state:
            pass
        await asyncio.sleep(0.05)
        ready.release()

    async def consume():
        await asyncio.sleep(0.01)
        async with state:
            await ready.acquire()  # blocks: nothing released yet

    await asyncio.gather(prepare(), consume())


asyncio.run(main())
