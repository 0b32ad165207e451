"""Bulk reading: the cyclic garbage collector paused while a trace streams in.

Reading a trace allocates little that lives, but the collector still walks every
tracked object (chain nodes, memoised actions, ...) each time enough new ones
appear: on a large trace that is a third of the time. Nothing read creates cyclic
garbage worth collecting mid-stream, so the readers pause the collector and restore
it (with one collection) when they are done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)
