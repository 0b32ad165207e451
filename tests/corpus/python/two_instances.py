# expect: recursive-locking
"""Two accounts of one class locked in opposite orders by two transfers."""

import threading


class Account:
    def __init__(self, balance):
        self.lock = threading.Lock()
        self.balance = balance


def transfer(src, dst, amount):
    with src.lock, dst.lock:
        src.balance -= amount
        dst.balance += amount


a, b = Account(100), Account(100)
first_done = threading.Event()


def one():
    transfer(a, b, 10)
    first_done.set()


def two():
    first_done.wait(10)  # sequenced by an event, not by fork/join: they could overlap
    transfer(b, a, 10)


threads = [threading.Thread(target=one), threading.Thread(target=two)]
for t in threads:
    t.start()
for t in threads:
    t.join()
