"""Every interleaving of a scenario's tasks under exact blocking semantics.

A *state* is, per task, its position in its program, its local conditions, the locks
it holds and whether it is queued as a waiting writer; plus which events are set.
States are hashed, so each is expanded once.

Blocking rules, per lock kind (``docs/scenarios.md``):

* ``mutex``, ``spinlock``: exclusive; taking a lock you hold blocks for ever.
* ``rwsem``, ``percpu-rwsem``: readers share; a writer that has to wait is *queued*
  and, from then on, blocks new readers (writer preference; for a percpu-rwsem this
  is ``freeze``: new readers block at once and the writer waits for readers to drain).
  A reader that already holds the lock blocks too: read is not recursive.
* ``rwlock`` (qrwlock): as ``rwsem`` in process context; a read in an interrupt
  context, or a ``recursive-read``, waits only while a writer holds the lock, never
  for a queued one.
* ``cluster``: shared by every node; ``read`` with ``read`` and ``deferred`` with
  ``deferred`` are compatible; every waiting request is queued and blocks later
  requests it conflicts with (a FIFO lock manager, like gfs2's glocks).

A task is *stuck* when it waits and only stuck or finished tasks could let it go on
(they hold the lock, are queued before it, or may still signal the event). A state
with a stuck task is a deadlock (a wait-for cycle) or a hang (a lock a finished task
kept, an event nobody will signal).

Partial-order reduction: from each state only a *persistent set* is expanded: the
enabled steps of a set of tasks closed under "may touch, now or later, a lock or
event that a step of the set touches" (steps on different locks commute). It keeps
every reachable deadlock; the depth-first search fully expands a state whose reduced
successors close a cycle on the search stack, so no step is postponed for ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lockgraph.errors import InputError, LockgraphError
from lockgraph.scenario.program import (
    BRANCH,
    COPY,
    END,
    ENTER,
    JUMP,
    LEAVE,
    LOCK,
    RESET,
    RESTART,
    SET,
    SIGNAL,
    TRY,
    UNLOCK,
    WAIT,
    Activation,
    Compiled,
    Instr,
    Program,
)
from lockgraph.scenario.reduce import (
    MODE_BITS,
    SIGNAL_BIT,
    WAIT_BIT,
    WRITE_BIT,
    Symmetry,
    conflict,
    event_ops,
    lock_modes,
)

MODE_CODES = {"write": 0, "read": 1, "deferred": 2, "recursive-read": 1}
MODE_NAMES = ("write", "read", "deferred")
_QUEUE_WRITERS = frozenset({"rwsem", "percpu-rwsem", "rwlock"})

TaskState = tuple[int, int, int, tuple[tuple[int, int], ...], bool]
"""(pc, known conditions, their values, held (lock, mode) pairs, queued)."""
State = tuple[tuple[TaskState, ...], int]
"""Per-task states and the mask of set events."""
Move = tuple[int, int]
"""(task, choice): choice is the value a branch takes, 0 otherwise."""
Table = tuple[dict[int, list[tuple[int, int]]], dict[int, list[tuple[int, int]]]]
"""Per lock: its holders and its queued requests, as (task, mode) pairs."""


class ExploreLimit(LockgraphError):
    slug = "limit"


@dataclass
class Waiting:
    """What a stuck task waits for, and who could have let it go on."""

    task: str
    what: str
    """``glock[F2] (read)`` or ``event writeback``."""
    holders: list[tuple[str, str]] = field(default_factory=list)
    """(task, how): ``(P2, "holds deferred")``, ``(P3, "queued write")``,
    ``(P1, "ended holding write")``, ``(none, "...")``."""
    line: int = 0
    lock: int = -1
    """The lock waited for (its id in ``Compiled.locks``), or -1."""
    event: int = -1
    """The event waited for (its id in ``Compiled.events``), or -1."""


@dataclass
class ScheduleStep:
    """One step of a schedule, as a table row."""

    task: int
    choice: int
    action: str
    context: list[str]
    """Calls entered since this task's previous step, outermost first, indented."""
    line: int
    outcome: str = ""
    depth: int = 0
    """How deep in calls the step is (the indentation of its row)."""


@dataclass
class Exploration:
    verdict: str
    """``deadlock``, ``hang``, ``none`` or ``incomplete``."""
    states: int
    transitions: int
    seconds: float
    reduced: bool
    schedule: list[ScheduleStep] = field(default_factory=list)
    blocked: list[ScheduleStep] = field(default_factory=list)
    """The step each stuck task cannot take, with its context."""
    waiting: list[Waiting] = field(default_factory=list)
    cycle: list[str] = field(default_factory=list)
    """The wait-for cycle, task names in order (empty for a hang)."""
    findings: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(kind, task, detail, line): ``bad-unlock-balance``, ``held-at-exit`` seen on the way."""
    moves: list[Move] = field(default_factory=list)
    reductions: list[str] = field(default_factory=list)
    """The reductions used: ``persistent``, ``sleep``, ``symmetry`` (none: every state)."""


class Explorer:
    def __init__(self, compiled: Compiled) -> None:
        self.c = compiled
        self.programs: list[Program] = compiled.programs
        self.codes: list[list[Instr]] = [p.code for p in self.programs]
        self.names = [p.task for p in self.programs]
        self.kinds = [info.kind for info in compiled.locks]
        self.labels = [info.label for info in compiled.locks]
        self.findings: set[tuple[str, str, str, int]] = set()
        self._modes = [[MODE_CODES.get(ins.mode, 0) for ins in code] for code in self.codes]
        # A recursive read ignores queued requests, as a queued request (already in line) does.
        self._skip_queue = [[ins.recursive for ins in code] for code in self.codes]
        self._lock_modes = [lock_modes(code) for code in self.codes]
        self._event_ops = [event_ops(code) for code in self.codes]
        self.commute = True
        """Readers of one lock, and waiters of one event, commute (else any two steps on
        one lock or event are dependent: the reduction before lockgraph 0.x's readers)."""
        self._symmetry: Symmetry | None = None
        self._twins: Symmetry | None = None
        """While searching with symmetry: a finding of one task holds for its twins."""

    # -- states -----------------------------------------------------------------

    def initial(self) -> State:
        tasks = []
        for i in range(len(self.programs)):
            pc, known, vals = self._advance(i, 0, 0, 0)
            tasks.append((pc, known, vals, (), False))
        events = 0
        for info in self.c.events:
            if info.decl.initially_set:
                events |= 1 << info.id
        return (tuple(tasks), events)

    def _advance(self, i: int, pc: int, known: int, vals: int) -> tuple[int, int, int]:
        """Run task i's local instructions up to its next step others can see."""
        code = self.codes[i]
        seen: set[tuple[int, int, int]] | None = None
        while True:
            ins = code[pc]
            op = ins.op
            if op == SET:
                bit = 1 << ins.slot
                known |= bit
                vals = vals | bit if ins.value else vals & ~bit
                pc += 1
            elif op == ENTER:
                known &= ~ins.mask
                pc += 1
            elif op == LEAVE:
                pc += 1
            elif op == JUMP:
                pc = ins.target
            elif op == COPY:
                src, dst = 1 << ins.slot, 1 << ins.slot2
                if known & src:
                    known |= dst
                    vals = vals | dst if vals & src else vals & ~dst
                else:
                    known &= ~dst
                pc += 1
            elif op == RESTART:
                if seen is None:
                    seen = set()
                key = (pc, known, vals)
                if key in seen:
                    raise InputError(
                        self.c.scenario.path,
                        ins.line,
                        f"task {self.names[i]}: retry loops for ever without a step",
                    )
                seen.add(key)
                pc = ins.target
            elif op == BRANCH:
                bit = 1 << ins.slot
                if not known & bit:
                    return pc, known, vals
                pc = pc + 1 if bool(vals & bit) != ins.value else ins.target
            else:
                return pc, known, vals

    def _table(self, tasks: tuple[TaskState, ...]) -> Table:
        holders: dict[int, list[tuple[int, int]]] = {}
        pending: dict[int, list[tuple[int, int]]] = {}
        for j, (pc, _, _, held, queued) in enumerate(tasks):
            for lock, mode in held:
                holders.setdefault(lock, []).append((j, mode))
            if queued:
                ins = self.codes[j][pc]
                pending.setdefault(ins.lock, []).append((j, self._modes[j][pc]))
        return holders, pending

    def _available(
        self,
        i: int,
        lock: int,
        mode: int,
        holders: dict[int, list[tuple[int, int]]],
        pending: dict[int, list[tuple[int, int]]],
        queued: bool,
    ) -> bool:
        for _, m in holders.get(lock, ()):
            if m != mode or mode == 0:
                return False
        if queued:
            return True
        waiting = pending.get(lock)
        if waiting:
            kind = self.kinds[lock]
            for j, m in waiting:
                if j == i:
                    continue
                if kind == "cluster":
                    if m != mode or mode == 0:
                        return False
                elif kind in _QUEUE_WRITERS and m == 0 and mode != 0:
                    return False
        return True

    def _queues(self, lock: int, mode: int) -> bool:
        kind = self.kinds[lock]
        return kind == "cluster" or (kind in _QUEUE_WRITERS and mode == 0)

    def moves(
        self,
        state: State,
        table: Table,
    ) -> list[list[Move]]:
        """The enabled moves of each task."""
        tasks, events = state
        holders, pending = table
        result: list[list[Move]] = []
        for i, (pc, _, _, _, queued) in enumerate(tasks):
            ins = self.codes[i][pc]
            op = ins.op
            if op == LOCK:
                mode = self._modes[i][pc]
                if self._available(
                    i, ins.lock, mode, holders, pending, queued or self._skip_queue[i][pc]
                ) or (not queued and self._queues(ins.lock, mode)):
                    result.append([(i, 0)])
                else:
                    result.append([])
            elif op == BRANCH:
                result.append([(i, 1), (i, 0)])
            elif op == END:
                result.append([])
            elif op == WAIT:
                result.append([(i, 0)] if events >> ins.event & 1 else [])
            else:
                result.append([(i, 0)])
        return result

    def apply(self, state: State, move: Move, table: Table | None = None) -> State:
        tasks, events = state
        i, choice = move
        pc, known, vals, held, queued = tasks[i]
        ins = self.codes[i][pc]
        op = ins.op
        if op == LOCK:
            holders, pending = table if table is not None else self._table(tasks)
            mode = self._modes[i][pc]
            if self._available(
                i, ins.lock, mode, holders, pending, queued or self._skip_queue[i][pc]
            ):
                held = (*held, (ins.lock, mode))
                queued = False
                pc += 1
            else:
                queued = True
        elif op == UNLOCK:
            held = self._release(i, ins, held)
            pc += 1
        elif op == TRY:
            holders, pending = table if table is not None else self._table(tasks)
            mode = self._modes[i][pc]
            if self._available(i, ins.lock, mode, holders, pending, self._skip_queue[i][pc]):
                held = (*held, (ins.lock, mode))
                pc = ins.target
            else:
                pc = ins.target2
        elif op == WAIT:
            pc += 1
        elif op == SIGNAL:
            events |= 1 << ins.event
            pc += 1
        elif op == RESET:
            events &= ~(1 << ins.event)
            pc += 1
        elif op == BRANCH:
            bit = 1 << ins.slot
            known |= bit
            vals = vals | bit if choice else vals & ~bit
            pc = pc + 1 if bool(choice) != ins.value else ins.target
        if not queued:
            pc, known, vals = self._advance(i, pc, known, vals)
            if self.codes[i][pc].op == END and held:
                for lock, _ in held:
                    self._finding("held-at-exit", i, lock, "", self.codes[i][pc].line)
        new = list(tasks)
        new[i] = (pc, known, vals, held, queued)
        return (tuple(new), events)

    def _release(
        self, i: int, ins: Instr, held: tuple[tuple[int, int], ...]
    ) -> tuple[tuple[int, int], ...]:
        for k in range(len(held) - 1, -1, -1):
            if held[k][0] == ins.lock:
                if ins.mode and MODE_CODES[ins.mode] != held[k][1]:
                    wrong = f" released as {ins.mode}, held as {MODE_NAMES[held[k][1]]}"
                    self._finding("bad-unlock-balance", i, ins.lock, wrong, ins.line)
                return held[:k] + held[k + 1 :]
        self._finding("bad-unlock-balance", i, ins.lock, "", ins.line)
        return held

    def _finding(self, kind: str, i: int, lock: int, suffix: str, line: int) -> None:
        """Record what task ``i`` did wrong; with symmetry, its twins do it too."""
        twins = self._twins
        group = twins.groups[twins.group_of[i]] if twins and i in twins.group_of else [i]
        for j in group:
            other = twins.twin_lock(i, lock, j) if twins else lock
            self.findings.add((kind, self.names[j], self.labels[other] + suffix, line))

    # -- stuck tasks --------------------------------------------------------------

    def stuck(
        self,
        state: State,
        table: Table,
        moves: list[list[Move]],
    ) -> dict[int, list[int]]:
        """Stuck tasks and, for each, the tasks it waits for (empty: nobody can help)."""
        tasks, _ = state
        blocked: dict[int, list[int]] = {}
        for i, (pc, *_rest) in enumerate(tasks):
            if moves[i] or self.codes[i][pc].op == END:
                continue
            blocked[i] = self._blockers(i, state, table)
        if not blocked:
            return {}
        stuck = set(blocked)
        changed = True
        while changed:
            changed = False
            for i in list(stuck):
                for j in blocked[i]:
                    if j not in stuck and not self._finished(tasks, j):
                        stuck.discard(i)
                        changed = True
                        break
        return {i: blocked[i] for i in sorted(stuck)}

    def _finished(self, tasks: tuple[TaskState, ...], j: int) -> bool:
        return self.codes[j][tasks[j][0]].op == END

    def _blockers(
        self,
        i: int,
        state: State,
        table: Table,
    ) -> list[int]:
        tasks, _ = state
        pc, _, _, _, queued = tasks[i]
        ins = self.codes[i][pc]
        if ins.op == WAIT:
            return [
                j
                for j, (pcj, *_r) in enumerate(tasks)
                if j != i and ins.event in self.programs[j].future_signals[pcj]
            ]
        holders, pending = table
        mode = self._modes[i][pc]
        result = [j for j, m in holders.get(ins.lock, ()) if m != mode or mode == 0]
        if not queued and not self._skip_queue[i][pc]:
            kind = self.kinds[ins.lock]
            for j, m in pending.get(ins.lock, ()):
                if j != i and (
                    (kind == "cluster" and (m != mode or mode == 0))
                    or (kind in _QUEUE_WRITERS and m == 0 and mode != 0)
                ):
                    result.append(j)
        return result

    # -- reductions -------------------------------------------------------------------

    def _mine(self, t: int, ins: Instr, ts: TaskState) -> int:
        """The modes (bits) in which the step at ``ins`` touches its lock."""
        if ins.op != UNLOCK:
            return MODE_BITS.get(ins.mode, WRITE_BIT)
        for lock, m in reversed(ts[3]):
            if lock == ins.lock:
                return 1 << m
        return 0  # releases nothing: changes nothing

    def persistent(
        self, state: State, moves: list[list[Move]], leaders: list[int] | None = None
    ) -> list[Move]:
        tasks, _ = state
        best: list[Move] | None = None
        followers: dict[int, list[int]] | None = None
        if leaders is not None:
            followers = {}
            for t, lead in enumerate(leaders):
                followers.setdefault(lead, []).append(t)
        for seed, own in enumerate(moves):
            if not own or (leaders is not None and leaders[seed] != seed):
                continue  # an identical task in the same state has the same closure
            if self.codes[seed][tasks[seed][0]].op == BRANCH:
                return own  # a local choice commutes with everything
            bound = len(best) if best is not None else None
            members = self._closure(seed, tasks, followers, moves, bound)
            if members is None:
                continue  # no smaller than the best so far
            chosen = [m for t in members for m in moves[t]]
            if best is None or len(chosen) < len(best):
                best = chosen
                if len(best) == 1:
                    break
        return best or []

    def _closure(
        self,
        seed: int,
        tasks: tuple[TaskState, ...],
        followers: dict[int, list[int]] | None = None,
        moves: list[list[Move]] | None = None,
        bound: int | None = None,
    ) -> list[int] | None:
        """``seed`` and every task that may, now or later, not commute with a member.

        ``followers``: identical tasks in one state, by their first (they stand or fall
        together: the same future), so that only the first of each is tested. None when
        the members' enabled ``moves`` reach ``bound`` (a smaller set is known)."""
        if followers is None:
            followers = {t: [t] for t in range(len(tasks))}
        members = list(followers[seed])
        inside = set(members)
        count = sum(len(moves[t]) for t in members) if moves is not None else 0
        scanned: set[tuple[int, int, int]] = set()
        """(lock or event, mode bits, 0 for a lock, 1 for an event) already scanned for."""
        k = 0
        while k < len(members):
            if bound is not None and count >= bound:
                return None
            t = members[k]
            k += 1
            ins = self.codes[t][tasks[t][0]]
            op = ins.op
            if op in (LOCK, UNLOCK, TRY):
                lock = ins.lock
                kind = self.kinds[lock]
                mine = self._mine(t, ins, tasks[t])
                if (lock, mine, 0) in scanned:
                    continue
                scanned.add((lock, mine, 0))
                for j, same in followers.items():
                    if (
                        j not in inside
                        and lock in self.programs[j].future_locks[tasks[j][0]]
                        and (not self.commute or conflict(kind, mine, self._lock_modes[j][lock]))
                    ):
                        inside.update(same)
                        members.extend(same)
                        if moves is not None:
                            count += sum(len(moves[u]) for u in same)
            elif op in (WAIT, SIGNAL, RESET):
                event = ins.event
                mine = WAIT_BIT if op == WAIT else SIGNAL_BIT
                if (event, mine, 1) in scanned:
                    continue
                scanned.add((event, mine, 1))
                for j, same in followers.items():
                    if (
                        j not in inside
                        and event in self.programs[j].future_events[tasks[j][0]]
                        and (not self.commute or (mine | self._event_ops[j][event]) & SIGNAL_BIT)
                    ):
                        inside.update(same)
                        members.extend(same)
                        if moves is not None:
                            count += sum(len(moves[u]) for u in same)
        return members

    def independent(self, tasks: tuple[TaskState, ...], i: int, k: int) -> bool:
        """Whether the next steps of tasks ``i`` and ``k`` commute (for sleep sets)."""
        if i == k:
            return False
        a = self.codes[i][tasks[i][0]]
        b = self.codes[k][tasks[k][0]]
        if BRANCH in (a.op, b.op):
            return True
        if a.op in (LOCK, UNLOCK, TRY) and b.op in (LOCK, UNLOCK, TRY):
            if a.lock != b.lock:
                return True
            if not self.commute:
                return False
            kind = self.kinds[a.lock]
            return not conflict(kind, self._mine(i, a, tasks[i]), self._mine(k, b, tasks[k]))
        if a.op in (WAIT, SIGNAL, RESET) and b.op in (WAIT, SIGNAL, RESET):
            return a.event != b.event or (self.commute and a.op == b.op == WAIT)
        return True

    # -- the search ------------------------------------------------------------------

    def search(
        self,
        reduce: bool = True,
        max_states: int = 2_000_000,
        stop: bool = True,
        symmetry: bool | None = None,
        sleep: bool | None = None,
    ) -> Exploration:
        """Depth-first search; ``stop`` at the first stuck state (else count them all).

        ``reduce``: persistent sets (partial-order reduction); ``symmetry``: one state
        per class of states that differ by a swap of identical tasks; ``sleep``: sleep
        sets. The last two follow ``reduce`` unless given.
        """
        started = time.process_time()
        use_symmetry = reduce if symmetry is None else symmetry
        use_sleep = reduce if sleep is None else sleep
        sym = self.symmetry() if use_symmetry else None
        if sym is not None and not sym.groups:
            sym = None
        key: Callable[[State], object] = sym.key if sym is not None else _same
        self._twins = sym
        reductions = [
            name
            for name, on in (("persistent", reduce), ("sleep", use_sleep), ("symmetry", sym))
            if on
        ]
        init = self.initial()
        init_key = key(init)
        # canonical state -> the sleep set (canonical moves) it was expanded with
        visited: dict[object, frozenset[Move]] = {init_key: frozenset()}
        on_stack: dict[object, int] = {init_key: 1}
        moves_stack: list[Move] = []
        # state, its key, successors left, moves explored or asleep (sleep sets)
        frames: list[tuple[State, object, list[tuple[Move, State]], set[Move]]] = []
        transitions = 0
        found: tuple[list[Move], State] | None = None

        def canonical(state: State, moves: Iterable[Move]) -> frozenset[Move]:
            if sym is None:
                return frozenset(moves)
            slots = sym.slots(state)
            return frozenset((slots[t], c) for t, c in moves)

        def expand(
            state: State, asleep: frozenset[Move], only: frozenset[Move] | None
        ) -> list[tuple[Move, State]] | None:
            """Successors to explore; ``only``: just these (canonical) moves, on a revisit."""
            nonlocal transitions, found
            table = self._table(state[0])
            moves = self.moves(state, table)
            if only is None and (found is None or not stop):
                stuck = self.stuck(state, table, moves)
                if stuck and found is None:
                    found = (list(moves_stack), state)
                    if stop:
                        return None
            enabled = [m for own in moves for m in own if m not in asleep]
            if only is not None:
                slots = sym.slots(state) if sym is not None else None
                chosen = [m for m in enabled if (slots[m[0]] if slots else m[0], m[1]) in only]
            elif reduce:
                leaders = sym.leaders(state) if sym is not None else None
                chosen = [m for m in self.persistent(state, moves, leaders) if m not in asleep]
                if leaders is not None:
                    # a twin in the same state would reach a swap of the same state
                    chosen = [m for m in chosen if leaders[m[0]] == m[0]]
            else:
                chosen = enabled
            succ = [(m, self.apply(state, m, table)) for m in chosen]
            # The cycle proviso: never postpone the other tasks round a cycle for ever.
            if (
                reduce
                and only is None
                and len(chosen) < len(enabled)
                and any(key(s) in on_stack for _, s in succ)
            ):
                succ = [(m, self.apply(state, m, table)) for m in enabled]
            transitions += len(succ)
            return succ

        first = expand(init, frozenset(), None)
        if first is not None:
            frames.append((init, init_key, first, set()))
        while frames:
            state, state_key, succ, done = frames[-1]
            if not succ:
                frames.pop()
                if on_stack[state_key] == 1:
                    del on_stack[state_key]
                else:
                    on_stack[state_key] -= 1
                if moves_stack:
                    moves_stack.pop()
                continue
            move, nxt = succ.pop()
            asleep: frozenset[Move] = frozenset()
            if use_sleep:
                tasks = state[0]
                asleep = frozenset(m for m in done if self.independent(tasks, m[0], move[0]))
                done.add(move)
            nxt_key = key(nxt)
            stored = visited.get(nxt_key)
            only: frozenset[Move] | None = None
            if stored is not None:
                if not stored:
                    continue
                now = canonical(nxt, asleep)
                woken = stored - now
                if not woken:
                    continue
                visited[nxt_key] = stored & now  # explore what slept before and is awake now
                only = woken
            else:
                if len(visited) >= max_states:
                    states = len(visited)
                    return self._result("incomplete", states, transitions, started, reductions)
                visited[nxt_key] = canonical(nxt, asleep)
            moves_stack.append(move)
            on_stack[nxt_key] = on_stack.get(nxt_key, 0) + 1
            children = expand(nxt, asleep, only)
            if children is None:
                break
            frames.append((nxt, nxt_key, children, set(asleep)))
        if found is None:
            return self._result("none", len(visited), transitions, started, reductions)
        result = self._result("deadlock", len(visited), transitions, started, reductions)
        self._twins = None
        self.describe(result, shorten(self, found[0]))
        return result

    def symmetry(self) -> Symmetry:
        """The groups of identical tasks (computed once)."""
        if self._symmetry is None:
            initially = 0
            for info in self.c.events:
                if info.decl.initially_set:
                    initially |= 1 << info.id
            self._symmetry = Symmetry(self.codes, self.kinds, initially)
        return self._symmetry

    def _result(
        self, verdict: str, states: int, transitions: int, started: float, reductions: list[str]
    ) -> Exploration:
        return Exploration(
            verdict,
            states,
            transitions,
            time.process_time() - started,
            bool(reductions),
            findings=sorted(self.findings, key=lambda f: (f[3], f)),
            reductions=reductions,
        )

    # -- schedules ----------------------------------------------------------------------

    def replay(self, moves: list[Move]) -> tuple[State, list[ScheduleStep]]:
        """Run a schedule from the start; ``ValueError`` if a move is not enabled."""
        state = self.initial()
        steps: list[ScheduleStep] = []
        shown: list[list[int]] = [[] for _ in self.programs]
        for move in moves:
            table = self._table(state[0])
            enabled = self.moves(state, table)
            i = move[0]
            if not 0 <= i < len(enabled) or move not in enabled[i]:
                raise ValueError(f"move {move} is not enabled")
            steps.append(self._step(state, move, shown, table))
            state = self.apply(state, move, table)
        return state, steps

    def _step(
        self,
        state: State,
        move: Move,
        shown: list[list[int]],
        table: Table,
    ) -> ScheduleStep:
        i, choice = move
        pc, _, _, _held, _queued = state[0][i]
        ins = self.codes[i][pc]
        context = self._context(i, ins, shown)
        action, outcome = self._action(i, ins, choice, state, table)
        return ScheduleStep(i, choice, action, context, ins.line, outcome, _depth(ins))

    def _context(self, i: int, ins: Instr, shown: list[list[int]]) -> list[str]:
        chain = []
        a: Activation | None = ins.act
        while a is not None and a.kind != "task":
            chain.append(a)
            a = a.parent
        chain.reverse()
        ids = [a.id for a in chain]
        old = shown[i]
        common = 0
        while common < min(len(old), len(ids)) and old[common] == ids[common]:
            common += 1
        shown[i] = ids
        return ["  " * k + chain[k].display for k in range(common, len(chain))]

    def _action(
        self,
        i: int,
        ins: Instr,
        choice: int,
        state: State,
        table: Table,
    ) -> tuple[str, str]:
        op = ins.op
        tasks = state[0]
        pc, _, _, _, queued = tasks[i]
        if op in (LOCK, TRY, UNLOCK):
            label = self.labels[ins.lock]
            mode = ins.mode
            show_mode = f" {mode}" if mode and self._shows_mode(ins.lock) else ""
            verb = ins.text if op != TRY else "trylock"
            text = f"{verb} {label}{show_mode}"
            if op == UNLOCK:
                return text, ""
            holders, pending = table
            skip = (queued and op == LOCK) or self._skip_queue[i][pc]
            avail = self._available(i, ins.lock, self._modes[i][pc], holders, pending, skip)
            if op == TRY:
                return text, "ok" if avail else "failed"
            if avail:
                return text, "acquired" if queued else ""
            return text, "waits"
        if op == BRANCH:
            slot_name = next((n for n, s in ins.act.slots.items() if s == ins.slot), f"#{ins.slot}")
            return f"if {slot_name}", "yes" if choice else "no"
        if op in (WAIT, SIGNAL, RESET):
            return f"{ins.text} {self.c.events[ins.event].label}", ""
        return ins.describe(), ""

    def _shows_mode(self, lock: int) -> bool:
        return self.kinds[lock] not in ("mutex", "spinlock")

    def describe(self, result: Exploration, moves: list[Move]) -> None:
        """Fill in the schedule, the stuck tasks and the wait-for cycle."""
        state, steps = self.replay(moves)
        result.moves = list(moves)
        result.schedule = steps
        table = self._table(state[0])
        stuck = self.stuck(state, table, self.moves(state, table))
        shown: list[list[int]] = [[] for _ in self.programs]
        # contexts of blocked steps continue from each task's last shown step
        last_ctx = self._last_contexts(moves)
        for i in stuck:
            pc = state[0][i][0]
            ins = self.codes[i][pc]
            shown[i] = last_ctx[i]
            context = self._context(i, ins, shown)
            action, _ = self._action(i, ins, 0, state, table)
            result.blocked.append(
                ScheduleStep(i, 0, action, context, ins.line, "blocked", _depth(ins))
            )
            result.waiting.append(self._waiting(i, state, table, stuck[i]))
        cycle = _cycle(stuck)
        result.cycle = [self.names[i] for i in cycle]
        result.verdict = "deadlock" if cycle else "hang"

    def _last_contexts(self, moves: list[Move]) -> list[list[int]]:
        state = self.initial()
        shown: list[list[int]] = [[] for _ in self.programs]
        for move in moves:
            i = move[0]
            ins = self.codes[i][state[0][i][0]]
            self._context(i, ins, shown)
            state = self.apply(state, move)
        return shown

    def _waiting(
        self,
        i: int,
        state: State,
        table: Table,
        blockers: list[int],
    ) -> Waiting:
        tasks, _ = state
        pc, _, _, _, queued = tasks[i]
        ins = self.codes[i][pc]
        if ins.op == WAIT:
            label = self.c.events[ins.event].label
            w = Waiting(self.names[i], f"event {label}", line=ins.line, event=ins.event)
            for j in blockers:
                w.holders.append((self.names[j], "may signal it"))
            if not blockers:
                w.holders.append(("", "no task can still signal it"))
            return w
        mode = ins.mode if self._shows_mode(ins.lock) else ""
        w = Waiting(
            self.names[i],
            f"{self.labels[ins.lock]}{f' ({mode})' if mode else ''}",
            line=ins.line,
            lock=ins.lock,
        )
        holders, pending = table
        for j, m in holders.get(ins.lock, ()):
            if j not in blockers:
                continue
            how = "holds" if not self._finished(tasks, j) else "ended holding"
            if j == i:
                how = "already holds"
            shown_mode = f" {MODE_NAMES[m]}" if self._shows_mode(ins.lock) else " it"
            w.holders.append((self.names[j], f"{how}{shown_mode}".rstrip()))
        for j, m in pending.get(ins.lock, ()):
            if j in blockers and j != i:
                w.holders.append((self.names[j], f"is queued for {MODE_NAMES[m]} before it"))
        if queued:
            w.what += ", queued"
        return w


def _same(state: State) -> object:
    return state


def _depth(ins: Instr) -> int:
    depth = 0
    a: Activation | None = ins.act
    while a is not None and a.kind != "task":
        depth += 1
        a = a.parent
    return depth


def _cycle(stuck: dict[int, list[int]]) -> list[int]:
    """A cycle in the wait-for graph of the stuck tasks, if there is one."""
    for start in stuck:
        path: list[int] = []
        index: dict[int, int] = {}
        node = start
        while node in stuck and node not in index:
            index[node] = len(path)
            path.append(node)
            nexts = [j for j in stuck[node] if j in stuck]
            if not nexts:
                node = -1
                break
            node = nexts[0]
        if node in index:
            return path[index[node] :]
    return []


def shorten(explorer: Explorer, moves: list[Move]) -> list[Move]:
    """Drop steps the deadlock does not need: whole tasks, then each task's last steps."""

    def deadlocks(candidate: list[Move]) -> bool:
        try:
            state, _ = explorer.replay(candidate)
        except ValueError:
            return False
        table = explorer._table(state[0])
        return bool(explorer.stuck(state, table, explorer.moves(state, table)))

    saved = set(explorer.findings)
    try:
        best = list(moves)
        for task in sorted({m[0] for m in best}):
            trial = [m for m in best if m[0] != task]
            if deadlocks(trial):
                best = trial
        changed = True
        while changed:
            changed = False
            for task in sorted({m[0] for m in best}):
                last = max(k for k, m in enumerate(best) if m[0] == task)
                trial = best[:last] + best[last + 1 :]
                if deadlocks(trial):
                    best = trial
                    changed = True
        return best
    finally:
        explorer.findings = saved


def explore(compiled: Compiled, reduce: bool = True, max_states: int = 2_000_000) -> Exploration:
    return Explorer(compiled).search(reduce=reduce, max_states=max_states)
