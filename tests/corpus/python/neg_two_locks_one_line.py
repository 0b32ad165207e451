# expect: none
"""Two locks made on one line are two lock classes: taking one inside the other, in
one order everywhere, is no finding (threading and asyncio alike)."""

import asyncio
import threading

INDEX_LOCK, DATA_LOCK = threading.Lock(), threading.Lock()


def update():
    with INDEX_LOCK, DATA_LOCK:
        pass


def make_pair():
    # locals too: the class is the call, not the line
    first, second = threading.Lock(), threading.Lock()
    with first, second:
        pass


async def main():
    outer, inner = asyncio.Lock(), asyncio.Lock()

    async def work():
        async with outer, inner:
            await asyncio.sleep(0)

    await asyncio.gather(work(), work())


threads = [threading.Thread(target=update) for _ in range(2)]
threads += [threading.Thread(target=make_pair) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
asyncio.run(main())
