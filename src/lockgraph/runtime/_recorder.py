"""The recorder: feeds the engine from the core's misses and the patched waits.

The engine is pure and not thread-safe. Every call into it happens under
``Recorder.mutex``, a raw ``_thread`` lock captured before anything is patched, so
it is never instrumented. The core calls ``hook`` only when a thread's chain is new
to it, with the thread's ``busy`` flag set: a finalizer or signal handler that runs
during the bookkeeping and takes a lock is not recorded (the core passes it
through), so nothing here re-enters. A thread that cannot get the mutex within
``MUTEX_WAIT`` (the holder may be stuck in a finalizer that waits for a lock this
thread holds) defers its event: the next holder of the mutex applies it. Nothing
here raises into user code except ``DeadlockError`` under the ``raise`` policy.

The engine learns a thread's held locks lazily: the core's stack is the truth, and
``_sync`` replays the difference into the engine's task before each event. Replaying
acquisitions the thread already reported adds no dependency, so the chain cache of
the core is sound.
"""

from __future__ import annotations

import _thread
import bisect
import fnmatch
import sys
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from lockgraph.engine import Engine, Finding, Run, analyze
from lockgraph.engine.analysis import apply_verdicts, cycle_finding, dependency_view
from lockgraph.engine.findings import ClassView, HeldView, SiteView
from lockgraph.engine.graph import Edge, Step
from lockgraph.engine.model import ClassKind, LockClass, LockInstance, LockUse, Stack, Task
from lockgraph.runtime import _sites
from lockgraph.runtime._config import Config
from lockgraph.runtime._errors import DeadlockError, LockgraphWarning
from lockgraph.runtime._protocol import HeldEntry, ThreadStateLike

MUTEX_WAIT = 0.5
"""Seconds a thread waits for the recorder's mutex before deferring its event."""

INSTANCE_CHAIN_LIMIT = 20_000
"""Instance-trie nodes the runtime's engine keeps (see ``Engine.instance_chain_limit``)."""

_allocate_lock = _thread.allocate_lock


class LockRecord:
    """What lockgraph knows of one lock: its class, name and engine handles.

    Referenced only by the lock object: it dies with the lock.
    """

    __slots__ = (
        "fork_safe",
        "instance",
        "name",
        "nest",
        "reentrant",
        "signal",
        "site",
        "subclass",
        "try_use",
        "use",
    )

    def __init__(self, site: _sites.CreationSite, reentrant: bool, name: str = "") -> None:
        self.site = site
        self.reentrant = reentrant
        self.name = name
        """The class name given with ``lockgraph.name`` (empty: the creation site)."""
        self.subclass = 0
        self.nest: LockRecord | None = None
        self.instance: LockInstance | None = None
        self.use: LockUse | None = None
        self.try_use: LockUse | None = None
        self.fork_safe = False
        """Re-initialised in a child after fork (logging's handler locks)."""
        self.signal = False
        """A Lock that other threads release: re-acquiring it is a wait, not a deadlock."""

    @property
    def class_name(self) -> str:
        return self.name or self.site.name


class Recorder:
    def __init__(self, core: Any, config: Config) -> None:
        self.core = core
        self.config = config
        self.engine = Engine(online=True)
        # Short-lived locks each make instance-trie nodes: start afresh sooner.
        self.engine.instance_chain_limit = INSTANCE_CHAIN_LIMIT
        _sites.set_full_stacks(config.full_stacks)
        self.engine.on_cycle = self._on_cycle
        self.engine.on_finding = self._on_finding
        self.mutex = _allocate_lock()
        self.deferred: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self.threads: weakref.WeakSet[Any] = weakref.WeakSet()
        self._serial: dict[str, int] = {}
        self._collected: list[tuple[str, Any]] = []
        self._pending: list[list[Step]] = []
        self._pending_edges: set[Edge] = set()
        self._marks: dict[int, list[tuple[Any, ...]]] = {}
        """Task id -> the (code, line, frame id) of each entry of its engine held stack."""
        self.active_events: set[str] = set()
        """Events some task waited on while holding a lock: only their signals matter."""
        self.marks: list[tuple[int, str]] = []
        """(event index, label): which test (or phase) each stretch of events belongs to."""
        self.label = ""
        self.suppress: list[str] = list(config.suppress)
        self.order: list[list[str]] = [list(o) for o in config.order]
        self.internal_errors = 0
        self.last_internal_error = ""

    # -- entry points (called with the thread's busy flag set) -----------------

    def hook(self, lock: Any, ts: ThreadStateLike, trylock: bool) -> bool:
        """The core's miss: ``lock`` is about to be taken on a chain new to ``ts``."""
        rec = lock._lockgraph_rec
        if rec is None:
            return False
        try:
            site = _sites.current_stack()
            held = ts.held()
            if not trylock and not rec.reentrant and self._handoff(lock, held, rec):
                # ``lock.acquire()`` twice in one frame: a Lock used as a signal that
                # another thread releases (the idiom of ``_thread`` code), a wait.
                event = f"(release of {rec.class_name} by another thread)"
                new = self._locked(
                    self._wait, ts, [e for e in held if e[0] is not lock], event, site
                )
                if new:
                    self._act(new, site, rec)
                return False
            new = self._locked(self._acquire, ts, held, rec, trylock, site)
        except Exception as exc:
            self._internal_error(exc)
            return False
        if new is None:
            return False
        try:
            self._act(new, site, rec)
        except DeadlockError:
            raise
        except Exception as exc:
            self._internal_error(exc)
        return True

    def _handoff(self, lock: Any, held: list[HeldEntry], rec: LockRecord) -> bool:
        """Whether re-acquiring this held Lock waits for another thread to release it.

        Declared with ``lockgraph.name(lock, signal=True)``; otherwise assumed when it
        happens in the frame that took the lock (the ``_thread`` idiom), except under
        the ``raise`` policy, whose point is to stop a thread that would block forever.
        """
        mine = [e for e in held if e[0] is lock]
        if not mine:
            return False
        if rec.signal:
            return True
        if self.config.policy == "raise":
            return False
        frame = _sites.user_frame()
        return frame is not None and any(e[3] == id(frame) for e in mine)

    def wait(self, event: str, exclude: Any = None, owner: Any = None) -> None:
        """The calling thread is about to wait for ``event`` (the held locks depend on it);
        ``owner`` is the object waited on (a Condition, a Future): its own instance."""
        ts = self.core.current()
        if ts is None or ts.busy:
            return
        held = [e for e in ts.held() if e[0] is not exclude]
        if not held:
            return  # no lock held: the wait depends on nothing
        ts.busy = True
        try:
            site = _sites.current_stack()
            new = self._locked(self._wait, ts, held, event, site, owner)
            if new:
                self._act(new, site, None)
        except DeadlockError:
            raise
        except Exception as exc:
            self._internal_error(exc)
        finally:
            ts.busy = False

    def signal(self, event: str, owner: Any = None) -> None:
        """The calling thread makes ``event`` happen (a notify, a future's result)."""
        if event not in self.active_events:
            return  # nobody ever waited for it holding a lock
        ts = self.core.current()
        if ts is None or ts.busy:
            return
        ts.busy = True
        try:
            site = _sites.current_stack()
            self._locked(self._signal, ts, ts.held(), event, site, owner)
        except Exception as exc:
            self._internal_error(exc)
        finally:
            ts.busy = False

    def thread_started(self, thread: threading.Thread) -> None:
        ts = self.core.current()
        if ts is None or ts.busy:
            return
        ts.busy = True
        try:
            self._locked(self._fork, ts, thread)
        except Exception as exc:
            self._internal_error(exc)
        finally:
            ts.busy = False

    def thread_running(self, thread: threading.Thread) -> Any:
        ts = self.core.current()
        task = getattr(thread, "_lockgraph_task", None)
        if ts is not None and task is not None:
            ts.task = task
            self.threads.add(ts)
        return ts

    def thread_exit(self, ts: ThreadStateLike | None) -> None:
        if ts is None or ts.busy or ts.task is None:
            return
        ts.busy = True
        try:
            self._locked(self._exit, ts, ts.held(), _sites.current_stack())
        except Exception as exc:
            self._internal_error(exc)
        finally:
            ts.busy = False

    def join(self, thread: threading.Thread) -> None:
        """The calling thread is about to join ``thread``."""
        child = getattr(thread, "_lockgraph_task", None)
        if child is None or getattr(thread, "_lockgraph_joined", False):
            return
        ts = self.core.current()
        if ts is None or ts.busy:
            return
        thread._lockgraph_joined = True  # type: ignore[attr-defined]
        ts.busy = True
        try:
            site = _sites.current_stack()
            started = getattr(thread, "_lockgraph_started_at", None)
            new = self._locked(self._join, ts, ts.held(), child, started, site)
            if new:
                self._act(new, site, None)
        except DeadlockError:
            raise
        except Exception as exc:
            self._internal_error(exc)
        finally:
            ts.busy = False

    # -- the mutex ---------------------------------------------------------------

    def _locked(self, fn: Callable[..., None], *args: Any) -> list[tuple[str, Any]] | None:
        """Run ``fn`` under the mutex; the findings it made (None: deferred)."""
        if not self.mutex.acquire(True, MUTEX_WAIT):
            self.deferred.append((fn, args))
            return None
        try:
            while self.deferred:
                dfn, dargs = self.deferred.popleft()
                dfn(*dargs)
            self._collected = []
            fn(*args)
            return self._collected
        finally:
            self._collected = []
            self.mutex.release()

    def _on_cycle(self, steps: list[Step], task: Task) -> None:
        self._collected.append(("cycle", steps))

    def _on_finding(self, finding: Finding) -> None:
        self._collected.append(("finding", finding))

    def _internal_error(self, exc: BaseException) -> None:
        self.internal_errors += 1
        self.last_internal_error = f"{type(exc).__name__}: {exc}"

    # -- engine work (under the mutex) ------------------------------------------

    def _task(self, ts: ThreadStateLike) -> Task:
        task: Task | None = ts.task
        if task is None:
            thread = threading._active.get(ts.ident)  # type: ignore[attr-defined]
            if thread is not None and getattr(thread, "_lockgraph_task", None) is not None:
                task = thread._lockgraph_task
            else:
                name = thread.name if thread is not None else f"thread-{ts.ident}"
                task = self.engine.task(name)
            ts.task = task
            self.threads.add(ts)
        assert task is not None
        return task

    def use(self, rec: LockRecord, trylock: bool = False) -> LockUse:
        use = rec.try_use if trylock else rec.use
        if use is None:
            self._instance(rec)
            use = rec.try_use if trylock else rec.use
            assert use is not None
        return use

    def _instance(self, rec: LockRecord) -> LockInstance:
        inst = rec.instance
        if inst is None:
            name = rec.class_name
            cls: LockClass = self.engine.lock_class(name, rec.subclass, site=rec.site.stack)
            n = self._serial.get(cls.key, 0) + 1
            self._serial[cls.key] = n
            inst = self.engine.lock(f"{cls.key}#{n}", cls, rec.reentrant, not rec.reentrant)
            rec.instance = inst
            nest = self._instance(rec.nest) if rec.nest is not None else None
            rec.use = self.engine.use(inst, nest=nest)
            rec.try_use = self.engine.use(inst, trylock=True)
        return inst

    def _sync(self, task: Task, held: list[HeldEntry]) -> None:
        """Make the engine's held stack for ``task`` what the core says it is."""
        want: list[tuple[LockUse, HeldEntry]] = []
        seen: set[int] = set()
        for entry in held:
            rec = entry[0]._lockgraph_rec
            if rec is not None and id(entry[0]) not in seen:
                seen.add(id(entry[0]))  # a second entry is a thread waiting for a handoff
                want.append((self.use(rec, entry[4]), entry))
        have = task.held
        # Where each engine entry was taken (code, line, frame): a lock released and
        # taken again elsewhere is a new acquisition, whose site the engine must have.
        marks = self._marks.setdefault(task.id, [])
        k = 0
        n = min(len(have), len(want), len(marks))
        while k < n and have[k][0] is want[k][0] and marks[k] == want[k][1][1:4]:
            k += 1
        engine = self.engine
        while len(task.held) > k:
            top = task.held[-1][0].lock
            top.depth = 0  # re-entries are the core's business, not the engine's
            engine.release(task, top)
        del marks[k:]
        for use, entry in want[k:]:
            engine.acquire(task, use, _sites.entry_stack(entry[1], entry[2], entry[3]))
            marks.append(entry[1:4])

    def _acquire(
        self,
        ts: ThreadStateLike,
        held: list[HeldEntry],
        rec: LockRecord,
        trylock: bool,
        site: Stack,
    ) -> None:
        task = self._task(ts)
        self._sync(task, held)
        edges = len(self.engine.graph.edges)
        self.engine.acquire(task, self.use(rec, trylock), site)
        if self.order and len(self.engine.graph.edges) > edges:
            self._check_order(list(self.engine.graph.edges.values())[edges:])
        if self._pending_edges and any(e in self._pending_edges for e in task.ichain.chain.edges):
            self._collected.append(("recheck", None))

    def _wait(
        self,
        ts: ThreadStateLike,
        held: list[HeldEntry],
        event: str,
        site: Stack,
        owner: Any = None,
    ) -> None:
        task = self._task(ts)
        self._sync(task, held)
        self.active_events.add(event)
        self.engine.wait(task, self.event_use(event, owner), site)

    def _signal(
        self,
        ts: ThreadStateLike,
        held: list[HeldEntry],
        event: str,
        site: Stack,
        owner: Any = None,
    ) -> None:
        task = self._task(ts)
        self._sync(task, held)
        self.engine.signal(task, self.event_use(event, owner), site)
        ts.forget()  # the task's token changed: chains must be seen again

    def event_use(self, event: str, owner: Any = None) -> LockUse:
        """The event's pseudo-lock (under the mutex): one instance per object waited on
        (``owner``: a Condition, a Future, a task), so an instance-level cycle through
        a wait is claimed only when one object's wait and signal were both seen."""
        if owner is None:
            return self.engine.event(event)
        use: LockUse | None = getattr(owner, "_lockgraph_use", None)
        if use is None or use.lock.cls.name != event:
            engine = self.engine
            cls = engine.lock_class(event, kind=ClassKind.EVENT)
            n = self._serial.get(cls.key, 0) + 1
            self._serial[cls.key] = n
            use = engine.use(engine.lock(f"{event}#{n}", cls))
            try:
                owner._lockgraph_use = use
            except (AttributeError, TypeError):  # no room on it: the class-wide event
                return self.engine.event(event)
        return use

    def _fork(self, ts: ThreadStateLike, thread: threading.Thread) -> None:
        parent = self._task(ts)
        child = self.engine.task(thread.name)
        thread._lockgraph_task = child  # type: ignore[attr-defined]
        # Threads started at one place share a join event class (a lock class per
        # creation site, as for locks): the graph must not grow with every thread.
        thread._lockgraph_started_at = _sites.creation_site("Thread")  # type: ignore[attr-defined]
        self.engine.fork(parent, child, _sites.current_stack())
        ts.forget()

    def _join(
        self,
        ts: ThreadStateLike,
        held: list[HeldEntry],
        child: Task,
        started: _sites.CreationSite | None,
        site: Stack,
    ) -> None:
        task = self._task(ts)
        self._sync(task, held)
        event = None
        if started is not None:
            engine = self.engine
            cls = engine.lock_class(
                f"(join {started.name})", kind=ClassKind.EVENT, site=started.stack
            )
            event = engine.use(engine.lock(f"(join {child.name})", cls))
        self.engine.join(task, child, site, event)
        ts.forget()

    def _exit(self, ts: ThreadStateLike, held: list[HeldEntry], site: Stack) -> None:
        task = self._task(ts)
        self._sync(task, held)
        self.engine.exit(task, site, "thread-exit")

    # -- fork ----------------------------------------------------------------------

    def before_fork(self) -> None:
        """In the forking thread: note locks other threads hold, then hold the mutex
        across the fork so the child's engine is never caught half-updated."""
        me = self.core.current()
        others = [ts for ts in list(self.threads) if ts is not me and ts.depth]
        # Other at-fork hooks (logging's takes its module lock) run in this thread
        # while the mutex is held: they must not wait for it.
        self._fork_busy = me if me is not None and not me.busy else None
        if self._fork_busy is not None:
            self._fork_busy.busy = True
        if not self.mutex.acquire(True, MUTEX_WAIT * 4):
            self._fork_mutex = False
            return
        self._fork_mutex = True
        try:
            site = _sites.current_stack()
            forker = self._task(me).name if me is not None else "?"
            for ts in others:
                self._held_across_fork(ts, forker, site)
        except Exception as exc:
            self._internal_error(exc)

    def _held_across_fork(self, ts: ThreadStateLike, forker: str, site: Stack) -> None:
        holder = self._task(ts)
        running = sys._current_frames().get(ts.ident)  # the holder's stack, for sites
        for lock, code, line, frame_id, trylock in ts.held():
            rec = lock._lockgraph_rec
            if rec is None or rec.fork_safe or not lock.locked():
                continue
            inst = self._instance(rec)
            held = HeldView(
                inst.cls.key,
                inst.key,
                "w",
                SiteView.of(_sites.entry_stack(code, line, frame_id, running)),
                trylock=trylock,
            )
            self.engine.labels[inst.id] = inst.key
            self.engine.record(
                Finding(
                    kind="held-across-fork",
                    key=[inst.cls.key],
                    classes=[
                        ClassView(
                            inst.cls.key,
                            "lock",
                            SiteView.of(inst.cls.site) if inst.cls.site else None,
                        )
                    ],
                    task=holder.name,
                    site=SiteView.of(site),
                    held=[held],
                    event=self.engine.index,
                    notes=[
                        f"{holder.name} holds {inst.key} while {forker} forks: the child "
                        "process inherits it locked, and no thread there will release it"
                    ],
                )
            )

    def _fork_done(self) -> None:
        busy = getattr(self, "_fork_busy", None)
        if busy is not None:
            self._fork_busy = None
            busy.busy = False
        if getattr(self, "_fork_mutex", False):
            self._fork_mutex = False
            self.mutex.release()

    def after_fork_parent(self) -> None:
        self._fork_done()

    def after_fork_child(self) -> None:
        """The other threads are gone: empty their stacks, end their tasks."""
        self._fork_done()
        me = self.core.current()
        for ts in list(self.threads):
            if ts is me:
                continue
            ts.drop_all()
            task = ts.task
            if task is not None:
                while task.held:
                    top = task.held[-1][0].lock
                    top.depth = 0
                    self.engine.release(task, top)
                task.exited = True
            self.threads.discard(ts)
        self.deferred.clear()

    # -- policies -------------------------------------------------------------------

    def _act(self, new: list[tuple[str, Any]], site: Stack, rec: LockRecord | None) -> None:
        if not new:
            return
        certain = None
        findings: list[Finding] = []
        for what, item in new:
            if what == "finding":
                findings.append(item)
                if item.kind == "recursive-locking" and item.same_instance:
                    certain = item
        policy = self.config.policy
        if policy != "report" or certain is not None:
            with_mutex = self._locked(self._evaluate, new, findings)
            if with_mutex is None:
                return
        findings = [f for f in findings if not f.pruned and not self.suppressed(f)]
        if not findings:
            return
        if policy == "raise":
            raise DeadlockError(self._message(findings[0]), findings[0])
        if policy == "warn":
            for f in findings:
                top = site[0] if site else None
                warnings.warn_explicit(
                    self._message(f),
                    LockgraphWarning,
                    top.file if top else "<lockgraph>",
                    top.line if top else 0,
                )
        elif certain is not None and certain in findings:
            # The thread is about to block forever: the report at exit would never come.
            _stderr(
                "lockgraph: this thread is about to deadlock on a lock it holds:\n"
                + self._message(certain)
            )

    def _evaluate(self, new: list[tuple[str, Any]], out: list[Finding]) -> None:
        """Under the mutex: cycle findings with their pruning, and re-checks."""
        cycles = [item for what, item in new if what == "cycle"]
        recheck = any(what == "recheck" for what, _ in new)
        if not cycles and not recheck:
            return
        self.engine.settle()
        run = self._run_view()
        if recheck:
            pending, self._pending = self._pending, []
            self._pending_edges.clear()
            cycles.extend(pending)
        for steps in cycles:
            finding = cycle_finding(run, steps)
            if finding.pruned:
                self._pending.append(steps)
                self._pending_edges.update(e for e, _ in steps)
            else:
                out.append(finding)

    def _run_view(self) -> Run:
        e = self.engine
        return Run(
            graph=e.graph,
            hb=e.hb,
            tasks=[(t.name, t.node) for t in e.tasks],
            instances=e.labels,
        )

    @staticmethod
    def _message(finding: Finding) -> str:
        from lockgraph.report.text import render_finding

        return render_finding(finding)

    # -- declared order ---------------------------------------------------------------

    def _rank(self, name: str) -> list[tuple[int, int]]:
        ranks = []
        for i, order in enumerate(self.order):
            for j, pattern in enumerate(order):
                if fnmatch.fnmatchcase(name, pattern):
                    ranks.append((i, j))
                    break
        return ranks

    def _violates(self, edge: Edge) -> list[str] | None:
        src = dict(self._rank(edge.src.key))
        for i, j in self._rank(edge.dst.key):
            if i in src and src[i] > j:
                return self.order[i]
        return None

    def _check_order(self, edges: Iterable[Edge]) -> None:
        for edge in edges:
            order = self._violates(edge)
            if order is not None:
                self._collected.append(
                    ("finding", self._order_finding(self._run_view(), edge, order))
                )

    def _order_finding(self, run: Run, edge: Edge, order: list[str]) -> Finding:
        dep = dependency_view(run, edge)
        return Finding(
            kind="order-violation",
            key=[edge.src.key, edge.dst.key],
            classes=[
                ClassView(c.key, c.kind.value, SiteView.of(c.site) if c.site else None)
                for c in (edge.src, edge.dst)
            ],
            dependencies=[dep],
            task=dep.witness.task,
            site=dep.witness.acquirer_site,
            event=edge.first_event,
            notes=[f"declared order: {' -> '.join(order)}"],
        )

    def order_findings(self, run: Run) -> list[Finding]:
        out = []
        for edge in run.graph.edges.values():
            order = self._violates(edge)
            if order is not None:
                out.append(self._order_finding(run, edge, order))
        return out

    # -- suppressions -----------------------------------------------------------------

    def suppressed(self, finding: Finding) -> str:
        """The first suppression pattern that matches ``finding`` (empty: none)."""
        for pattern in self.suppress:
            if _matches(pattern, finding):
                return pattern
        return ""

    # -- the end ----------------------------------------------------------------------

    def sync_all(self) -> None:
        """Bring the engine's view of every live thread up to date (under the mutex)."""
        for ts in list(self.threads):
            if ts.task is not None and not ts.task.exited:
                self._sync(ts.task, ts.held())

    def finish(self, sources: list[str] | None = None) -> tuple[Run, list[Finding]]:
        """The run so far and its findings (suppressed ones marked ``suppressed``)."""
        acquired = self.mutex.acquire(True, MUTEX_WAIT * 4)
        try:
            while acquired and self.deferred:
                dfn, dargs = self.deferred.popleft()
                dfn(*dargs)
            if acquired:
                self.sync_all()
            run = self.engine.finish(end_of_trace=False, sources=sources or [])
            run.event_findings.extend(self.order_findings(run))
            findings = analyze(run)
            apply_verdicts(findings, run)
            self.apply_suppressions(findings)
            return run, findings
        finally:
            if acquired:
                self.mutex.release()

    def apply_suppressions(self, findings: list[Finding]) -> None:
        apply_suppressions(findings, self.suppress)
        prune_known_safe(findings)

    def mark(self, label: str, own_task: bool = False) -> None:
        """From now on, events belong to ``label`` (a test).

        With ``own_task``, the calling thread becomes a new task named after the
        label: tests run one after the other in one thread, but the code paths they
        exercise can run concurrently in the program, so a dependency from one test
        and its reverse from another must not be pruned as ``single-task``.
        """
        self.label = label
        self.marks.append((self.engine.index, label))
        if not own_task:
            return
        ts = self.core.current()
        if ts is None:
            return
        thread = threading._active.get(ts.ident)  # type: ignore[attr-defined]
        name = thread.name if thread is not None else f"thread-{ts.ident}"
        if not self.mutex.acquire(True, MUTEX_WAIT * 4):
            return
        try:
            ts.task = self.engine.task(f"{name} [{label}]" if label else name)
            ts.forget()
            self.threads.add(ts)
        finally:
            self.mutex.release()

    def label_of(self, event: int) -> str:
        """The label of event ``event`` (a mark at index m covers events after m)."""
        i = bisect.bisect_left(self.marks, (event,)) - 1
        return self.marks[i][1] if i >= 0 else ""


KNOWN_SAFE = [
    (
        "recursive-locking",
        "Future._condition",
        "*",  # only concurrent.futures takes these (sites hide its frames)
        "ordered: concurrent.futures._AcquireFutures takes the futures' conditions sorted by id()",
    ),
    (
        "recursive-locking",
        "Condition@*concurrent/futures/_base.py:*",
        "*concurrent/futures/_base.py:__enter__",
        "ordered: concurrent.futures._AcquireFutures takes the futures' conditions sorted by id()",
    ),
]
"""(kind, class glob, ``file:function`` glob of the acquisition, reason): nesting in the
standard library that is safe by construction (a total order of the instances) and
that lockdep would need an annotation for."""


def prune_known_safe(findings: list[Finding]) -> None:
    for f in findings:
        if f.pruned:
            continue
        for kind, cls, function, reason in KNOWN_SAFE:
            if (
                f.kind == kind
                and any(fnmatch.fnmatchcase(c.name, cls) for c in f.classes)
                and f.site is not None
                and f.site.frames
                and fnmatch.fnmatchcase(
                    f"{f.site.frames[0].file}:{f.site.frames[0].function}", function
                )
            ):
                f.pruned = reason
                break


def apply_suppressions(findings: list[Finding], patterns: list[str]) -> None:
    """Mark the findings a pattern matches as suppressed (``suppression: PATTERN``)."""
    for f in findings:
        if not f.reported:
            continue
        for pattern in patterns:
            if _matches(pattern, f):
                f.suppressed = f"suppression: {pattern}"
                break


def _matches(pattern: str, f: Finding) -> bool:
    kind, sep, glob = pattern.partition(":")
    if not sep or kind not in ("class", "site", "kind", "id"):
        kind, glob = "class", pattern
    if kind == "kind":
        return fnmatch.fnmatchcase(f.kind, glob)
    if kind == "id":
        return f.id == glob or f.id.startswith(glob)
    if kind == "class":
        return any(fnmatch.fnmatchcase(c.name, glob) for c in f.classes)
    return any(
        fnmatch.fnmatchcase(text, glob)
        for site in _sites_of(f)
        for frame in site.frames
        for text in (frame.file, f"{frame.file}:{frame.line}", frame.function)
    )


def _sites_of(f: Finding) -> list[SiteView]:
    sites = [f.site] if f.site else []
    for d in f.dependencies:
        sites += [d.witness.holder_site, d.witness.acquirer_site]
    sites += [h.site for h in f.held]
    return sites


def _stderr(text: str) -> None:
    stream = sys.__stderr__
    if stream is None:
        return
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass
