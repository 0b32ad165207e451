# expect: wait-cycle
"""The main thread joins a worker while holding a lock the worker needs. This run
does not hang (the worker took the lock before), but another schedule would."""

import threading
import time

config_lock = threading.Lock()
config = {}


def worker():
    with config_lock:
        config["ready"] = True


t = threading.Thread(target=worker)
t.start()
time.sleep(0.05)
with config_lock:
    t.join()
