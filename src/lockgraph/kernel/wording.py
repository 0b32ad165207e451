"""lockdep's report wording, written once: what the parser reads and the renderer writes.

Each phrase is as ``kernel/locking/lockdep.c`` prints it (5.7 and later where it
changed; ``splat.patterns`` also reads the older forms). ``splat`` matches these
lines, ``render`` writes them back, and a test renders every kind and parses it
again, so the two cannot drift apart.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "circular": "possible circular locking dependency detected",
    "recursive": "possible recursive locking detected",
    "inconsistent": "inconsistent lock state",
    "irq-inversion": "possible irq lock inversion dependency detected",
    "irq-safe-unsafe": "irq-safe -> irq-unsafe lock order detected",
    "bad-unlock": "bad unlock balance detected!",
    "held-return": "lock held when returning to user space!",
    "held-freed": "held lock freed!",
    "still-held": "still has locks held!",
    "invalid-wait": "Invalid wait context",
    "rcu": "suspicious RCU usage",
    "nested-lock": "Nested lock was not taken",
    "bad-contention": "bad contention detected!",
    "held-exit": "lock held at task exit time!",
    "locking-bug": "lockdep's own check failed (a warning in kernel/locking/lockdep.c)",
    "unknown": "lockdep report of unknown kind",
}
"""Every report kind lockgraph recognises, with lockdep's title (after ``WARNING: ``;
``[ BUG: ... ]`` for an invalid wait context; ``HARDIRQ``/``SOFTIRQ`` for ``irq`` in
the ``-safe -> -unsafe`` one); ``model.KINDS`` is this table."""

# -- the task lines that start a report's body ---------------------------------------

TRYING_TO_ACQUIRE = "is trying to acquire lock:"
TRYING_TO_ACQUIRE_IRQ = "is trying to acquire:"
"""``-safe -> -unsafe`` reports: ``task [HC0[0]:SC0[0]:HE0:SE1] is trying to acquire:``."""
TRYING_TO_LOCK = "is trying to lock:"
TAKES = "takes:"
JUST_CHANGED = "just changed the state of lock:"
LEAVING = "is leaving the kernel with locks still held!"
NO_MORE_LOCKS = "but there are no more locks to release!"


def trying_to_release(name: str) -> str:
    return f"is trying to release lock ({name}) at:"


def freeing(memory: str) -> str:
    return f"is freeing memory {memory}, with a lock still held there!"


# -- sections ---------------------------------------------------------------------------

ALREADY_HOLDING = "but task is already holding lock:"
ALREADY_HOLDING_IRQ = "and this task is already holding:"
DEPENDS = "which lock already depends on the new lock."
CHAIN_HEAD = "the existing dependency chain (in reverse order) is:"
NEW_DEPENDENCY = "which would create a new lock dependency:"
OTHER_INFO = "other info that might help us debug this:"
INVERSE_ORDER = "and interrupts could create inverse lock ordering between them."
CHAIN_EXISTS = "Chain exists of:"
SCENARIO = "Possible unsafe locking scenario"
IRQ_SCENARIO = "Possible interrupt unsafe locking scenario"
DEADLOCK = "*** DEADLOCK ***"
NESTING = "May be due to missing lock nesting notation"
STACK_BACKTRACE = "stack backtrace:"
CALL_TRACE = "Call Trace:"
RCU_ACTIVE = "rcu_scheduler_active = 2, debug_locks = 1"
ACQUIRED_AT = "... acquired at:"
WORKQUEUE = "Workqueue: "
HARDWARE = "Hardware name: "


def took_another(irq: str) -> str:
    return f"but this lock took another, {irq}-unsafe lock in the past:"


def connects(irq: str) -> str:
    return f"but this new dependency connects a {irq}-irq-safe lock:"


def to_unsafe(irq: str) -> str:
    return f"to a {irq}-irq-unsafe lock:"


def became(irq: str, what: str) -> str:
    """``what``: ``safe`` or ``unsafe``."""
    return f"... which became {irq}-irq-{what} at:"


def dependencies_between(what: str) -> str:
    return f"the dependencies between {what}:"


def inconsistent_usage(before: str, after: str) -> str:
    return f"inconsistent {{{before}}} -> {{{after}}} usage."


def registered_at(usage: str) -> str:
    return f"{{{usage}}} state was registered at:"


def held_locks(count: int, task: str) -> str:
    if count == 0:
        return f"no locks held by {task}."
    return f"{count} lock{'' if count == 1 else 's'} held by {task}:"


def still_has_locks(task: str) -> str:
    return f"{task} {TITLES['still-held']}"
