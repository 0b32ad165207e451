# expect: none
"""Negative control: asyncio tasks sharing locks in one order, with an Event and a
Condition."""

import asyncio


async def main():
    a = asyncio.Lock()
    b = asyncio.Lock()
    ready = asyncio.Event()
    cond = asyncio.Condition()
    box = []

    async def worker(i):
        await ready.wait()
        async with a, b:
            await asyncio.sleep(0)
        async with cond:
            box.append(i)
            cond.notify_all()

    tasks = [asyncio.create_task(worker(i)) for i in range(5)]
    ready.set()
    async with cond:
        await cond.wait_for(lambda: len(box) == 5)
    await asyncio.gather(*tasks)


asyncio.run(main())
