# expect: none
"""Negative control: recursion through an RLock, a Semaphore, an Event, a Barrier."""

import threading

tree_lock = threading.RLock()
sem = threading.BoundedSemaphore(2)
done = threading.Event()
barrier = threading.Barrier(3)


def walk(depth):
    with tree_lock:
        if depth:
            walk(depth - 1)


def worker():
    with sem:
        walk(5)
    barrier.wait()
    done.wait()


threads = [threading.Thread(target=worker) for _ in range(2)]
for t in threads:
    t.start()
barrier.wait()
done.set()
for t in threads:
    t.join()
