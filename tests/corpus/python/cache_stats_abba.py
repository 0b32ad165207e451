# expect: circular-dependency
"""A cache that updates its statistics under its lock, and statistics that read the
cache under theirs: the classes are named where the program keeps the locks."""

import threading


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.hits = 0

    def record_hit(self):
        with self._lock:
            self.hits += 1

    def report(self, cache):
        with self._lock:
            return self.hits, cache.size()


class Cache:
    def __init__(self, stats):
        self._lock = threading.Lock()
        self._data = {}
        self.stats = stats

    def get(self, key):
        with self._lock:
            if key in self._data:
                self.stats.record_hit()
            return self._data.get(key)

    def put(self, key, value):
        with self._lock:
            self._data[key] = value

    def size(self):
        with self._lock:
            return len(self._data)


stats = Stats()
cache = Cache(stats)
cache.put("a", 1)
read_done = threading.Event()


def read():
    cache.get("a")
    read_done.set()


def report():
    read_done.wait(10)  # sequenced by an event, not by fork/join: they could overlap
    stats.report(cache)


threads = [
    threading.Thread(target=read, name="reader"),
    threading.Thread(target=report, name="reporter"),
]
for t in threads:
    t.start()
for t in threads:
    t.join()
