# expect: wait-cycle
"""An asyncio lock and a threading lock in opposite orders across the loop and a
thread: a coroutine holds the asyncio lock and waits for executor work that takes
the threading lock; a thread holds the threading lock and waits for a coroutine
that takes the asyncio lock."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

db_lock = threading.Lock()


def save():
    time.sleep(0.05)  # still running when the coroutine awaits it
    with db_lock:
        pass


async def main():
    state_lock = asyncio.Lock()
    loop = asyncio.get_running_loop()
    db_pool = ThreadPoolExecutor(1)  # not to_thread's pool: two threads

    async def update_state():
        await asyncio.sleep(0.05)  # still running when the thread waits for it
        async with state_lock:
            pass

    async with state_lock:
        await loop.run_in_executor(db_pool, save)  # waits for a thread under state_lock

    def sync_worker():
        with db_lock:  # waits for a coroutine under db_lock
            asyncio.run_coroutine_threadsafe(update_state(), loop).result(10)

    await asyncio.to_thread(sync_worker)
    db_pool.shutdown()


asyncio.run(main())
