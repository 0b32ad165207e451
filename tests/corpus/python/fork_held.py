# expect: held-across-fork
"""A thread holds a lock while the main thread forks: the child inherits it
locked and must not take it."""

import os
import threading

cache_lock = threading.Lock()
holding = threading.Event()
release = threading.Event()


def holder():
    with cache_lock:
        holding.set()
        release.wait(10)


t = threading.Thread(target=holder)
t.start()
holding.wait(10)
pid = os.fork()
if pid == 0:
    os._exit(0 if cache_lock.locked() else 1)
release.set()
t.join()
_, status = os.waitpid(pid, 0)
print("child saw the lock held:", os.waitstatus_to_exitcode(status) == 0)
