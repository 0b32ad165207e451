# expect: wait-cycle
"""Waiting for a future while holding a lock the pool's tasks take."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

db_lock = threading.Lock()
pool = ThreadPoolExecutor(max_workers=1)


def run_async(fn):
    return pool.submit(fn)  # every future of the app is made here: one class


def query():
    with db_lock:
        return 42


def slow_noop():
    time.sleep(0.1)


run_async(query).result()
f = run_async(slow_noop)
with db_lock:
    f.result()  # had f been a query, this would never return
pool.shutdown()
