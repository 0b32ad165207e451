# expect: none
"""Negative control: a producer/consumer built on a Condition, with another lock
taken consistently inside it."""

import threading

cond = threading.Condition()
stats_lock = threading.Lock()
items = []
stats = {"produced": 0}


def producer():
    for i in range(200):
        with cond:
            items.append(i)
            with stats_lock:
                stats["produced"] += 1
            cond.notify()


def consumer():
    got = 0
    while got < 200:
        with cond:
            while not items:
                cond.wait()
            items.pop(0)
            got += 1


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
