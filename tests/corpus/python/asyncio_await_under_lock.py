# expect: wait-cycle
"""A task awaits another task while holding an asyncio lock that the other task
takes: had the other task been slower to take it, neither would ever go on."""

import asyncio


async def main():
    cache_lock = asyncio.Lock()
    started = asyncio.Event()

    async def refresh():
        async with cache_lock:  # taken early this time
            pass
        started.set()
        await asyncio.sleep(0.01)

    async def reader():
        task = asyncio.create_task(refresh())
        await started.wait()
        async with cache_lock:
            await task  # waits for refresh while holding cache_lock

    await reader()


asyncio.run(main())
