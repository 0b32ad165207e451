# expect: none
"""asyncio semaphores used safely: a pool of two slots taken under no lock, and a
semaphore acquired under a lock when it does not have to wait."""

import asyncio


async def main():
    pool = asyncio.BoundedSemaphore(2)
    state = asyncio.Lock()
    done = []

    async def worker(n):
        async with pool:
            await asyncio.sleep(0.01)
            async with state:
                done.append(n)

    await asyncio.gather(*(worker(n) for n in range(6)))
    spare = asyncio.Semaphore(1)
    async with state, spare:  # a free slot: no wait
        pass


asyncio.run(main())
