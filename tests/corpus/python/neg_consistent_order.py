# expect: none
"""Negative control: many threads take three locks, always in the same order, plus
trylocks in the reverse order (which cannot deadlock)."""

import threading

a = threading.Lock()
b = threading.RLock()
c = threading.Lock()


def work(n):
    for _ in range(50):
        with a, b, c:
            pass
        with b, c:
            pass
        with c:
            if a.acquire(blocking=False):  # reverse order, but a trylock
                a.release()


threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
