# expect: circular-dependency
"""A logging handler whose emit() takes an application lock for errors, and
application code that logs (at info level) while holding that lock: the handler's
lock and the application lock in both orders."""

import logging
import threading

stats_lock = threading.Lock()
stats = {"records": 0}


class CountingHandler(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.ERROR:
            with stats_lock:  # taken under the handler's lock
                stats["errors"] = stats.get("errors", 0) + 1


log = logging.getLogger("app")
log.addHandler(CountingHandler())
log.setLevel(logging.INFO)
log.propagate = False


def worker():
    log.error("failed")


def reset():
    with stats_lock:
        log.info("resetting stats")  # handler lock taken under stats_lock
        stats["records"] = 0


first_done = threading.Event()


def one():
    worker()
    first_done.set()


def two():
    first_done.wait(10)  # sequenced by an event, not by fork/join: they could overlap
    reset()


threads = [threading.Thread(target=one), threading.Thread(target=two)]
for t in threads:
    t.start()
for t in threads:
    t.join()
