"""lockdep's prediction over every path of every function of a scenario.

Each task's program is walked along every path: both sides of every condition, both
outcomes of every trylock, one ``retry`` per activation (a second one would repeat
the first). Each path is fed into the shared ``lockgraph.engine.Engine`` as its own
engine task, as if it ran once: lockdep assumes any code path can run concurrently
with any other, so the cycles, their strong-path rules and their reports are exactly
the engine's. Functions that no task calls are walked alone with symbolic arguments.

On top of the engine's findings (cycles, recursive locking, unlocks of locks not
held, locks held when a task ends), ``check`` reports locks still held when a
function declared ``neutral`` (or a page fault) returns, and unlocks in the wrong
mode; and it summarises every function: what it may take, and while its callers
hold what.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockgraph.engine import Engine, Finding, Run, analyze
from lockgraph.engine.findings import ClassView, HeldView, SiteView
from lockgraph.engine.model import Frame, LockInstance, LockUse, Mode, Stack, Task
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
    LockInfo,
    Program,
)

PATH_LIMIT = 5_000
"""Paths walked per task; past it the check says it is incomplete."""

Event = tuple[object, ...]


@dataclass
class Path:
    decisions: list[str]
    events: list[Event]
    cut: str = ""
    """Why the path stops early (a second retry), if it does."""


@dataclass
class FunctionSummary:
    name: str
    params: tuple[str, ...]
    neutral: bool
    paths: int = 0
    calls: int = 0
    takes: dict[str, set[str]] = field(default_factory=dict)
    """Class -> modes taken by the function or its callees."""
    called_holding: set[tuple[str, ...]] = field(default_factory=set)
    dependencies: set[tuple[str, str]] = field(default_factory=set)
    """(class held, class taken inside the function or a callee): what it adds to the
    graph, its callers' locks included."""
    returns_holding: set[str] = field(default_factory=set)
    releases_unheld: set[str] = field(default_factory=set)
    standalone: bool = False


@dataclass
class TaskPaths:
    task: str
    engine_names: list[str]
    decisions: list[list[str]]
    truncated: bool = False
    standalone: bool = False


@dataclass
class CheckResult:
    findings: list[Finding]
    run: Run
    functions: list[FunctionSummary]
    tasks: list[TaskPaths]

    @property
    def reported(self) -> list[Finding]:
        return [f for f in self.findings if not f.pruned]

    @property
    def incomplete(self) -> bool:
        return any(t.truncated for t in self.tasks)


def walk(program: Program, limit: int = PATH_LIMIT) -> tuple[list[Path], bool]:
    """Every path of one program, and whether ``limit`` cut the list short."""
    code = program.code
    paths: list[Path] = []
    Work = tuple[int, int, int, dict[int, int], list[str], list[Event]]
    work: list[Work] = [(0, 0, 0, {}, [], [])]
    truncated = False
    while work:
        pc, known, vals, restarts, decisions, events = work.pop()
        while True:
            ins = code[pc]
            op = ins.op
            if op == LOCK:
                events.append(("acq", pc, False))
                pc += 1
            elif op == UNLOCK:
                events.append(("rel", pc))
                pc += 1
            elif op == TRY:
                if len(paths) + len(work) < limit:
                    fail = [*decisions, f"trylock {ins.line}: failed"]
                    work.append((ins.target2, known, vals, dict(restarts), fail, list(events)))
                else:
                    truncated = True
                decisions.append(f"trylock {ins.line}: ok")
                events.append(("acq", pc, True))
                pc = ins.target
            elif op in (WAIT, SIGNAL, RESET):
                events.append(("ev", pc))
                pc += 1
            elif op == BRANCH:
                bit = 1 << ins.slot
                if known & bit:
                    pc = pc + 1 if bool(vals & bit) != ins.value else ins.target
                    continue
                name = next((n for n, s in ins.act.slots.items() if s == ins.slot), "?")
                known |= bit
                if len(paths) + len(work) < limit:
                    no = [*decisions, f"{name}=no"]
                    other = pc + 1 if ins.value else ins.target
                    work.append((other, known, vals & ~bit, dict(restarts), no, list(events)))
                else:
                    truncated = True
                decisions.append(f"{name}=yes")
                vals |= bit
                pc = pc + 1 if not ins.value else ins.target
            elif op == SET:
                bit = 1 << ins.slot
                known |= bit
                vals = vals | bit if ins.value else vals & ~bit
                pc += 1
            elif op == COPY:
                src, dst = 1 << ins.slot, 1 << ins.slot2
                if known & src:
                    known |= dst
                    vals = vals | dst if vals & src else vals & ~dst
                else:
                    known &= ~dst
                pc += 1
            elif op == JUMP:
                pc = ins.target
            elif op == RESTART:
                count = restarts.get(ins.act.id, 0)
                if count >= 1:
                    paths.append(Path(decisions, events, f"retries again at line {ins.line}"))
                    break
                restarts[ins.act.id] = count + 1
                decisions.append(f"retry {ins.line}")
                pc = ins.target
            elif op == ENTER:
                known &= ~ins.mask
                events.append(("enter", pc))
                pc += 1
            elif op == LEAVE:
                events.append(("leave", pc))
                pc += 1
            else:
                assert op == END
                events.append(("end", pc))
                paths.append(Path(decisions, events))
                break
    return paths, truncated


class _Feeder:
    """Feeds paths into one engine and collects what the engine does not report."""

    def __init__(self, compiled: Compiled) -> None:
        self.c = compiled
        self.engine = Engine()
        self.instances: dict[tuple[int, int], LockInstance] = {}
        self.uses: dict[tuple[int, int, str, bool, bool], LockUse] = {}
        self.findings: dict[tuple[str, ...], Finding] = {}
        self.summaries: dict[str, FunctionSummary] = {
            f.name: FunctionSummary(f.name, f.params, f.neutral)
            for f in compiled.scenario.functions.values()
        }

    def instance(self, lock: int, subclass: int) -> LockInstance:
        inst = self.instances.get((lock, subclass))
        if inst is None:
            info = self.c.locks[lock]
            decl = info.cls
            site: Stack | None = None
            if decl.line:
                site = (Frame(self.c.scenario.path, decl.line, f"class {decl.key}"),)
            cls = self.engine.lock_class(decl.name, subclass, site=site)
            inst = self.instances[(lock, subclass)] = self.engine.lock(info.label, cls)
        return inst

    def use(self, lock: int, subclass: int, mode: str, trylock: bool, recursive: bool) -> LockUse:
        key = (lock, subclass, mode, trylock, recursive)
        use = self.uses.get(key)
        if use is None:
            info = self.c.locks[lock]
            use = self.uses[key] = self.engine.use(
                self.instance(lock, subclass), engine_mode(info, mode, recursive), trylock
            )
        return use

    def feed(self, program: Program, path: Path, name: str) -> None:
        engine = self.engine
        code = program.code
        task = engine.task(name, program.node)
        held: list[tuple[int, str, int, Stack]] = []
        frames: list[tuple[Activation, list[tuple[int, str, int, Stack]]]] = []
        counted: set[str] = set()
        for ev in path.events:
            what = ev[0]
            pc = ev[1]
            assert isinstance(pc, int)
            ins = code[pc]
            if what == "acq":
                trylock = bool(ev[2])
                use = self.use(ins.lock, ins.subclass, ins.mode, trylock, ins.recursive)
                engine.acquire(task, use, ins.site)
                self._summarise_take(frames, held, ins.lock, ins.mode)
                held.append((ins.lock, ins.mode, ins.subclass, ins.site))
            elif what == "rel":
                self._release(task, held, frames, ins.lock, ins.mode, ins.site)
            elif what == "ev":
                event = engine.event(self.c.events[ins.event].label)
                if ins.op == WAIT:
                    engine.wait(task, event, ins.site)
                elif ins.op == SIGNAL:
                    engine.signal(task, event, ins.site)
            elif what == "enter":
                frames.append((ins.act, list(held)))
                func = ins.act.function
                if func is not None:
                    s = self.summaries[func]
                    s.calls += 1
                    s.standalone = s.standalone or program.standalone
                    if func not in counted:
                        counted.add(func)
                        s.paths += 1
                    s.called_holding.add(tuple(self._cls(h[0]) for h in held))
            elif what == "leave":
                act, before = frames.pop()
                self._leave(task, act, before, held, ins.site)
            elif what == "end" and not program.standalone:
                engine.exit(task, ins.site, "task-exit")

    def _cls(self, lock: int) -> str:
        return self.c.locks[lock].cls.key

    def _summarise_take(
        self,
        frames: list[tuple[Activation, list[tuple[int, str, int, Stack]]]],
        held: list[tuple[int, str, int, Stack]],
        lock: int,
        mode: str,
    ) -> None:
        cls = self._cls(lock)
        for act, _ in frames:
            if act.function is None:
                continue
            s = self.summaries[act.function]
            s.takes.setdefault(cls, set()).add(mode)
            for h in held:
                held_cls = self._cls(h[0])
                if held_cls != cls or h[0] != lock:
                    s.dependencies.add((held_cls, cls))

    def _release(
        self,
        task: Task,
        held: list[tuple[int, str, int, Stack]],
        frames: list[tuple[Activation, list[tuple[int, str, int, Stack]]]],
        lock: int,
        mode: str,
        site: Stack,
    ) -> None:
        for k in range(len(held) - 1, -1, -1):
            if held[k][0] == lock:
                _, held_mode, subclass, _ = held[k]
                if mode and _plain(mode) != _plain(held_mode):
                    self._wrong_mode(task, lock, mode, held_mode, site, held)
                del held[k]
                self.engine.release(task, self.instance(lock, subclass), site)
                return
        for act, _ in frames:
            if act.function is not None:
                self.summaries[act.function].releases_unheld.add(self.c.locks[lock].label)
        self.engine.release(task, self.instance(lock, 0), site)

    def _wrong_mode(
        self,
        task: Task,
        lock: int,
        mode: str,
        held_mode: str,
        site: Stack,
        held: list[tuple[int, str, int, Stack]],
    ) -> None:
        info = self.c.locks[lock]
        self._record(
            Finding(
                kind="bad-unlock-balance",
                key=[info.cls.name, f"released as {mode}, held as {held_mode}"],
                classes=[ClassView(info.cls.name)],
                task=task.name,
                site=SiteView.of(site),
                held=self._held_views(held),
                event=self.engine.index,
                notes=[f"{task.name} releases {info.label} as {mode}, but holds it as {held_mode}"],
            )
        )

    def _leave(
        self,
        task: Task,
        act: Activation,
        before: list[tuple[int, str, int, Stack]],
        held: list[tuple[int, str, int, Stack]],
        site: Stack,
    ) -> None:
        extra = [h for h in held if h not in before]
        if act.function is not None and extra:
            self.summaries[act.function].returns_holding.update(
                self.c.locks[h[0]].label for h in extra
            )
        if not extra or not act.neutral or act.kind == "task":
            return
        context = act.display
        self._record(
            Finding(
                kind="held-at-exit",
                key=[context, *(self.c.locks[h[0]].cls.name for h in extra)],
                classes=[ClassView(self.c.locks[h[0]].cls.name) for h in extra],
                task=task.name,
                site=SiteView.of(site),
                held=self._held_views(extra),
                event=self.engine.index,
                notes=[f"{act.display} must return holding what it was called with"],
            )
        )

    def _held_views(self, held: list[tuple[int, str, int, Stack]]) -> list[HeldView]:
        views = []
        for lock, mode, subclass, site in held:
            info = self.c.locks[lock]
            name = info.cls.name + (f"/{subclass}" if subclass else "")
            views.append(
                HeldView(name, info.label, engine_mode(info, mode).letter, SiteView.of(site))
            )
        return views

    def _record(self, finding: Finding) -> None:
        key = (finding.kind, *finding.key)
        known = self.findings.get(key)
        if known is not None:
            known.count += 1
        else:
            self.findings[key] = finding


def _plain(mode: str) -> str:
    """A recursive read is released by ``read_unlock`` like any read."""
    return "read" if mode == "recursive-read" else mode


def engine_mode(info: LockInfo, mode: str, recursive: bool = False) -> Mode:
    """lockdep's read value: a recursive read (``recursive-read``, or an rwlock read in
    an interrupt context: lockdep's qrwlock rule since v5.10, commit e918188611f0) is
    ``read=2``; every other shared mode is a non-recursive ``read=1``."""
    if mode == "write":
        return Mode.WRITE
    return Mode.RECURSIVE_READ if recursive or mode == "recursive-read" else Mode.READ


def check(compiled: Compiled, limit: int = PATH_LIMIT) -> CheckResult:
    feeder = _Feeder(compiled)
    tasks: list[TaskPaths] = []
    for program in [*compiled.programs, *compiled.standalone]:
        paths, truncated = walk(program, limit)
        base = program.task if not program.standalone else f"{program.task}(...)"
        names = [base] if len(paths) == 1 else [f"{base}#{k + 1}" for k in range(len(paths))]
        for path, name in zip(paths, names, strict=False):
            feeder.feed(program, path, name)
        tasks.append(
            TaskPaths(
                program.task,
                names,
                [p.decisions + ([f"cut: {p.cut}"] if p.cut else []) for p in paths],
                truncated,
                program.standalone,
            )
        )
    run = feeder.engine.finish(end_of_trace=False, sources=[compiled.scenario.path])
    findings = analyze(run)
    seen = {(f.kind, *f.key) for f in findings}
    findings.extend(f for k, f in feeder.findings.items() if k not in seen)
    findings.sort(key=Finding.sort_key)
    summaries = [s for s in feeder.summaries.values() if s.calls]
    return CheckResult(findings, run, summaries, tasks)
