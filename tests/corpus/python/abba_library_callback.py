# expect: circular-dependency
"""A library calls user callbacks while holding its own lock; the user calls the
library while holding the user's lock: an ABBA between a user lock and a library
callback lock."""

import threading


class EventBus:  # "the library"
    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers = []

    def subscribe(self, fn):
        with self._lock:
            self._subscribers.append(fn)

    def publish(self, event):
        with self._lock:  # calls back under its lock
            for fn in self._subscribers:
                fn(event)


class Cache:  # "the user"
    def __init__(self, bus):
        self._lock = threading.Lock()
        self._data = {}
        self._bus = bus
        bus.subscribe(self.on_event)

    def on_event(self, event):
        with self._lock:
            self._data.pop(event, None)

    def put(self, key, value, on_change):
        with self._lock:
            self._data[key] = value
            self._bus.subscribe(on_change)  # calls the library under its lock


bus = EventBus()
cache = Cache(bus)
first_done = threading.Event()


def one():
    cache.put("a", 1, print)
    first_done.set()


def two():
    first_done.wait(10)  # sequenced by an event, not by fork/join: they could overlap
    bus.publish("b")


threads = [threading.Thread(target=one), threading.Thread(target=two)]
for t in threads:
    t.start()
for t in threads:
    t.join()
