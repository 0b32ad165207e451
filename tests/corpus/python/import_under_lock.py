# expect: circular-dependency wait-cycle
# options: --imports
"""A module's top-level code takes the configuration lock; another thread imports
that module while holding the configuration lock. In this run the importer arrives
after the module has used the lock, so it only waits for the import to finish; had
it taken the lock a moment earlier, each thread would wait for the other for ever
(the import lock is never released, the configuration lock never given back).
Recorded only with ``--imports`` (module import locks are optional)."""

import os
import sys
import tempfile
import threading

directory = tempfile.mkdtemp()
with open(os.path.join(directory, "lg_shared.py"), "w") as f:
    f.write(
        "import threading\n"
        "config_lock = threading.Lock()\n"
        "config = {}\n"
        "used = threading.Event()\n"
        "arriving = threading.Event()\n"
    )
with open(os.path.join(directory, "lg_heavy.py"), "w") as f:
    f.write(
        "import time\n"
        "import lg_shared\n"
        "with lg_shared.config_lock:\n"
        "    lg_shared.config['heavy'] = 1\n"
        "lg_shared.used.set()\n"
        "lg_shared.arriving.wait(10)\n"
        "time.sleep(0.3)  # still initialising when the other thread imports it\n"
    )
sys.path.insert(0, directory)
import lg_shared  # noqa: E402


def load_plugin():
    import lg_heavy  # noqa: F401, PLC0415  (the import is the point)


def reconfigure():
    lg_shared.used.wait(10)
    with lg_shared.config_lock:
        lg_shared.arriving.set()
        import lg_heavy  # noqa: F401, PLC0415  (the import is the point)


threads = [threading.Thread(target=load_plugin), threading.Thread(target=reconfigure)]
for t in threads:
    t.start()
for t in threads:
    t.join()
