# expect: recursive-locking
# policy: raise
"""A signal handler that takes a lock the interrupted main thread holds."""

import os
import signal
import threading

import lockgraph

state_lock = threading.Lock()
caught = []


def on_usr1(signum, frame):
    try:
        with state_lock:
            pass
    except lockgraph.DeadlockError:
        caught.append("deadlock avoided")


signal.signal(signal.SIGUSR1, on_usr1)
with state_lock:
    os.kill(os.getpid(), signal.SIGUSR1)
    for _ in range(1000):  # the handler runs between bytecodes
        if caught:
            break
print(caught)
