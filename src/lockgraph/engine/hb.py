"""Happens-before between tasks, from fork and join alone.

Each task's life is cut into *segments* at the forks and joins it makes: segment
``(task, epoch)``. A fork ends the parent's segment and starts the child's; a join
ends the child's last segment before the parent's next one. Event ``x`` happens
before event ``y`` when a path of segments leads from x's to y's. The graph grows
with forks and joins, never with lock events.
"""

from __future__ import annotations

from collections import deque

Segment = tuple[int, int]


class HappensBefore:
    def __init__(self) -> None:
        self.after: dict[Segment, list[Segment]] = {}
        self.last_epoch: dict[int, int] = {}

    def link(self, before: Segment, after: Segment) -> None:
        self.after.setdefault(before, []).append(after)
        for task, epoch in (before, after):
            if epoch > self.last_epoch.get(task, -1):
                self.last_epoch[task] = epoch

    def ordered(self, x: Segment, y: Segment) -> bool:
        """Whether everything in segment x happens before everything in segment y."""
        if x[0] == y[0]:
            return x[1] < y[1]
        seen = {x}
        queue = deque([x])
        while queue:
            task, epoch = queue.popleft()
            nexts = list(self.after.get((task, epoch), ()))
            if epoch < self.last_epoch.get(task, -1):
                nexts.append((task, epoch + 1))
            for nxt in nexts:
                if nxt[0] == y[0] and nxt[1] <= y[1]:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def concurrent(self, x: Segment, y: Segment) -> bool:
        return not self.ordered(x, y) and not self.ordered(y, x)

    def merge(self, other: HappensBefore, task_map: dict[int, int]) -> None:
        """Add another graph's links, with its task ids renamed through ``task_map``."""
        for (t, e), afters in other.after.items():
            for t2, e2 in afters:
                self.link((task_map[t], e), (task_map[t2], e2))
        for t, e in other.last_epoch.items():
            mapped = task_map[t]
            if e > self.last_epoch.get(mapped, -1):
                self.last_epoch[mapped] = e
