# expect: none
"""Negative control: queue producer/consumer, a thread pool and logging from many
threads, all used the ordinary way."""

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed, wait

logging.basicConfig(
    level=logging.INFO, format="%(threadName)s %(message)s", handlers=[logging.NullHandler()]
)
log = logging.getLogger("app")
q = queue.Queue(maxsize=10)
results_lock = threading.Lock()
results = []


def produce():
    for i in range(100):
        q.put(i)
        log.info("put %d", i)
    q.put(None)


def consume():
    while (item := q.get()) is not None:
        with results_lock:
            results.append(item)
        log.info("got %d", item)


def square(x):
    log.info("square %d", x)
    return x * x


threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
for t in threads:
    t.start()
with ThreadPoolExecutor(max_workers=4) as pool:
    total = sum(pool.map(square, range(100)))
    futures = [pool.submit(square, i) for i in range(20)]
    wait(futures)  # takes every future's condition, in id() order
    total += sum(f.result() for f in as_completed(futures))
for t in threads:
    t.join()
print(len(results), total)
