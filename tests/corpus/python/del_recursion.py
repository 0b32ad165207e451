# expect: recursive-locking
# policy: raise
"""A __del__ that takes a lock the thread already holds: without lockgraph this
thread would hang forever; with the raise policy the finalizer gets DeadlockError
instead (and Python prints it as an ignored exception), and the program goes on."""

import gc
import threading

registry_lock = threading.Lock()
registry = []


class Resource:
    def __init__(self):
        self.me = self  # a cycle: freed by the garbage collector, at any moment

    def __del__(self):
        with registry_lock:
            registry.append("closed")


with registry_lock:
    Resource()
    gc.collect()  # the finalizer runs here, while registry_lock is held
print("survived")
