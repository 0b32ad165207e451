# expect: wait-cycle
"""A consumer blocks in Queue.get() while holding a lock the producer takes before
it puts. In this run the producer's second put does not need the lock, so nothing
hangs; with another schedule the producer would wait for the lock forever."""

import queue
import threading
import time

q = queue.Queue()
inventory_lock = threading.Lock()


def producer():
    with inventory_lock:
        first = "counted"
    q.put(first)
    time.sleep(0.1)
    q.put("second")


t = threading.Thread(target=producer)
t.start()
q.get()
with inventory_lock:
    q.get()  # waits while holding inventory_lock
t.join()
