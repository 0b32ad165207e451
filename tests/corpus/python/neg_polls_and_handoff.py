# expect: none
"""Negative control: polls under a lock (zero timeouts never wait), a trylock in the
reverse order, and the _thread idiom of a Lock released by another thread."""

import _thread
import threading
from concurrent.futures import ThreadPoolExecutor

state = threading.Lock()
cond = threading.Condition()
sem = threading.Semaphore(0)


def worker():
    with state:
        pass


t = threading.Thread(target=worker)
t.start()
with ThreadPoolExecutor(max_workers=1) as pool:
    future = pool.submit(worker)
    with state:
        with cond:
            cond.wait(0)  # a poll
        sem.acquire(timeout=0)  # a poll
        t.join(0)  # a poll
        done = future.done()
    future.result()
t.join()
with cond:
    if state.acquire(timeout=0):  # reverse order, but never waits
        state.release()

# acquire, let another thread release it, acquire again: a handoff, not a self-deadlock
mutex = threading.Lock()
mutex.acquire()
_thread.start_new_thread(mutex.release, ())
mutex.acquire()
mutex.release()
