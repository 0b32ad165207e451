# expect: circular-dependency
"""Two asyncio tasks take two asyncio locks in opposite orders."""

import asyncio


async def main():
    orders = asyncio.Lock()
    stock = asyncio.Lock()

    async def place():
        async with orders:
            await asyncio.sleep(0)
            async with stock:
                pass

    async def restock():
        async with stock, orders:
            pass

    await asyncio.create_task(place())
    await asyncio.create_task(restock())


asyncio.run(main())
