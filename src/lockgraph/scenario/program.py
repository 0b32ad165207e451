"""Compile a scenario into one flat program per task.

Calls are inlined with their arguments bound, so every lock step names one concrete
lock instance and every instruction knows its call chain (for sites and schedules).
Each inlined call is an *activation* with its own local conditions: a condition is
chosen (both ways, by the analyses) the first time it is tested and keeps its value
until the activation starts again (``retry``, or a new call).

Locks are local to a node (machine) unless their kind is ``cluster``; events are
local to a node. A function no task calls is compiled on its own, with symbolic
arguments (``<param>``), so ``check`` sees every path of every function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockgraph.engine.model import Frame, Stack
from lockgraph.errors import InputError
from lockgraph.scenario.model import (
    MAX_NESTING,
    MMAP_LOCK,
    CallStep,
    ClassDecl,
    Condition,
    EventDecl,
    EventStep,
    FaultStep,
    Function,
    IfStep,
    LockRef,
    LockStep,
    RetryStep,
    ReturnStep,
    Scenario,
    SetStep,
    Step,
    UnlockStep,
)

# Opcodes. The first group are the steps other tasks can see (scheduling points).
LOCK, UNLOCK, TRY, WAIT, SIGNAL, RESET, BRANCH = range(7)
SET, COPY, JUMP, RESTART, ENTER, LEAVE, END = range(7, 14)
GLOBAL_OPS = frozenset({LOCK, UNLOCK, TRY, WAIT, SIGNAL, RESET})
OP_NAMES = (
    *("lock", "unlock", "trylock", "wait", "signal", "reset", "branch"),
    *("set", "copy", "jump", "restart", "enter", "leave", "end"),
)


@dataclass(eq=False)
class LockInfo:
    id: int
    cls: ClassDecl
    instance: str | None
    node: str | None
    """None for a cluster-wide lock."""
    label: str

    @property
    def kind(self) -> str:
        return self.cls.kind


@dataclass(eq=False)
class EventInfo:
    id: int
    decl: EventDecl
    instance: str | None
    node: str
    label: str


@dataclass(eq=False)
class Activation:
    """One inlined call (or the task itself, or a page fault)."""

    id: int
    name: str
    """The function name (``task P1``, ``page fault on M2`` for the others)."""
    display: str
    """As schedules show it: ``gfs2_file_direct_read(F1, M2)``."""
    call_line: int
    """The line of the step that made this call (0 for a task)."""
    parent: Activation | None
    kind: str
    """``task``, ``call`` or ``fault``."""
    neutral: bool
    function: str | None = None
    depth: int = 0
    slots: dict[str, int] = field(default_factory=dict)
    conditions: frozenset[str] = frozenset()
    """The local condition names of its steps."""
    fixed: set[int] = field(default_factory=set)
    """Slots of condition parameters: set by the caller, kept across ``retry``."""

    @property
    def mask(self) -> int:
        m = 0
        for slot in self.slots.values():
            if slot not in self.fixed:
                m |= 1 << slot
        return m


@dataclass(eq=False, slots=True)
class Instr:
    op: int
    line: int
    act: Activation
    text: str = ""
    lock: int = -1
    mode: str = ""
    recursive: bool = False
    """A recursive read: it waits only for a writer that holds the lock, never for a
    queued one (``recursive-read``, or an ``rwlock`` read in an interrupt context)."""
    subclass: int = 0
    event: int = -1
    slot: int = -1
    slot2: int = -1
    value: bool = False
    target: int = -1
    target2: int = -1
    mask: int = 0
    site: Stack = ()

    def describe(self) -> str:
        return f"{OP_NAMES[self.op]} {self.text}".strip()


@dataclass(eq=False)
class Program:
    task: str
    label: str
    node: str
    mm: str
    code: list[Instr]
    context: str = "process"
    standalone: bool = False
    """A function no task calls, compiled alone with symbolic arguments."""
    future_locks: list[frozenset[int]] = field(default_factory=list)
    """Locks that an instruction at or after pc may touch (lock, trylock, unlock)."""
    future_events: list[frozenset[int]] = field(default_factory=list)
    future_signals: list[frozenset[int]] = field(default_factory=list)
    """Events that may be signalled at or after pc."""


@dataclass
class Compiled:
    scenario: Scenario
    locks: list[LockInfo]
    events: list[EventInfo]
    programs: list[Program]
    """One per task, in declaration order."""
    standalone: list[Program]
    """One per function that no task reaches."""
    reached: set[str]


def compile_scenario(sc: Scenario) -> Compiled:
    c = _Compiler(sc)
    programs = [c.task(t.name) for t in sc.tasks.values()]
    reached = set(c.reached)
    standalone = [c.standalone(f) for f in sc.functions.values() if f.name not in reached]
    for p in [*programs, *standalone]:
        _futures(p, len(c.locks))
    return Compiled(sc, c.locks, c.events, programs, standalone, reached)


class _Compiler:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.locks: list[LockInfo] = []
        self._lock_ids: dict[tuple[str, str | None, str | None], int] = {}
        self.events: list[EventInfo] = []
        self._event_ids: dict[tuple[str, str | None, str], int] = {}
        self.reached: set[str] = set()
        self.multi_node = len(sc.nodes) > 1
        self._acts = 0
        self._slots = 0
        # per program being compiled
        self.code: list[Instr] = []
        self.node = ""
        self.mm = ""
        self.symbolic = False
        self.context = "process"
        self._nesting = 0
        """Calls, faults and ``if`` blocks open around the step being compiled."""

    def error(self, line: int, message: str, act: Activation | None = None) -> InputError:
        chain = []
        while act is not None and act.kind != "task":
            chain.append(f"{act.display} called at line {act.call_line}")
            act = act.parent
        where = f" (in {'; '.join(chain)})" if chain and not self.symbolic else ""
        return InputError(self.sc.path, line, message + where)

    # -- programs ----------------------------------------------------------------

    def task(self, name: str) -> Program:
        decl = self.sc.tasks[name]
        self._start(decl.node, decl.mm, symbolic=False)
        root = self._activation(f"task {name}", decl.label, 0, None, "task", True)
        root.conditions = condition_names(decl.steps)
        self.context = decl.context
        self._body(root, decl.steps, {}, None)
        self._emit(END, decl.line, root)
        return Program(name, decl.label, decl.node, decl.mm, self.code, decl.context)

    def standalone(self, func: Function) -> Program:
        self._start("", "<mm>", symbolic=True)
        args = tuple(f"<{p}>" for p in func.params)
        root = self._activation(f"task {func.name}", func.name, 0, None, "task", True)
        self._call(root, func, args, {}, None, func.line)
        self._emit(END, func.line, root)
        return Program(func.name, f"{func.name}(...)", "", "<mm>", self.code, standalone=True)

    def _start(self, node: str, mm: str, symbolic: bool) -> None:
        self._nesting = 0
        self.context = "process"
        self.code = []
        self.node = node
        self.mm = mm
        self.symbolic = symbolic
        self._slots = 0

    def _activation(
        self,
        name: str,
        display: str,
        call_line: int,
        parent: Activation | None,
        kind: str,
        neutral: bool,
        function: str | None = None,
    ) -> Activation:
        self._acts += 1
        depth = parent.depth + 1 if parent else 0
        return Activation(
            self._acts, name, display, call_line, parent, kind, neutral, function, depth
        )

    def _emit(self, op: int, line: int, act: Activation, **kw: object) -> Instr:
        ins = Instr(op, line, act, **kw)  # type: ignore[arg-type]
        ins.site = self._site(line, act)
        self.code.append(ins)
        return ins

    def _site(self, line: int, act: Activation) -> Stack:
        frames: list[Frame] = []
        a: Activation | None = act
        while a is not None:
            frames.append(Frame(self.sc.path, line, a.display if a.kind != "task" else a.name))
            line = a.call_line
            a = a.parent
        return tuple(frames)

    # -- bodies --------------------------------------------------------------------

    def _body(
        self,
        act: Activation,
        steps: tuple[Step, ...],
        env: dict[str, str],
        ret: int | None,
    ) -> None:
        """``ret``: the caller's condition that receives ``return VALUE``."""
        enter = self._emit(ENTER, 0, act, text=act.display)
        enter_pc = len(self.code) - 1
        patches: list[Instr] = []
        self._steps(act, steps, env, ret, patches, enter_pc)
        leave_pc = len(self.code)
        self._emit(LEAVE, 0, act, text=act.display, value=act.neutral)
        for ins in patches:
            ins.target = leave_pc
        enter.mask = act.mask
        enter.value = act.neutral

    def _steps(
        self,
        act: Activation,
        steps: tuple[Step, ...],
        env: dict[str, str],
        ret: int | None,
        patches: list[Instr],
        enter_pc: int,
    ) -> None:
        for step in steps:
            self._step(act, step, env, ret, patches, enter_pc)

    def _step(
        self,
        act: Activation,
        step: Step,
        env: dict[str, str],
        ret: int | None,
        patches: list[Instr],
        enter_pc: int,
    ) -> None:
        line = step.line
        if isinstance(step, LockStep):
            lock, mode = self._lock(act, step.ref, step.mode, env, line, step.verb)
            self._emit(
                LOCK,
                line,
                act,
                lock=lock,
                mode=mode,
                recursive=self._recursive(lock, mode),
                subclass=step.ref.subclass,
                text=step.verb,
            )
        elif isinstance(step, UnlockStep):
            lock, mode = self._lock(act, step.ref, step.mode, env, line, step.verb)
            self._emit(UNLOCK, line, act, lock=lock, mode=step.mode or "", text=step.verb)
        elif isinstance(step, CallStep):
            func = self.sc.functions.get(step.function)
            if func is None:
                raise self.error(line, f"unknown function {step.function!r}", act)
            slot = self._slot(act, step.result) if step.result else None
            self._call(act, func, step.args, env, slot, line)
        elif isinstance(step, FaultStep):
            self._fault(act, step, env)
        elif isinstance(step, EventStep):
            event = self._event(act, step, env)
            op = {"wait": WAIT, "signal": SIGNAL, "reset": RESET}[step.op]
            self._emit(op, line, act, event=event, text=step.op)
        elif isinstance(step, IfStep):
            self._if(act, step, env, ret, patches, enter_pc)
        elif isinstance(step, SetStep):
            self._emit(SET, line, act, slot=self._slot(act, step.flag), value=step.value)
        elif isinstance(step, ReturnStep):
            if ret is not None:
                if step.value in (None, "false", "true"):
                    self._emit(SET, line, act, slot=ret, value=step.value == "true")
                else:
                    assert step.value is not None
                    self._emit(COPY, line, act, slot=self._slot(act, step.value), slot2=ret)
            patches.append(self._emit(JUMP, line, act, text="return"))
        elif isinstance(step, RetryStep):
            self._emit(RESTART, line, act, target=enter_pc, text="retry")
        else:  # pragma: no cover - the parser makes no other steps
            raise self.error(line, f"unsupported step {step.text!r}", act)

    def _nest(self, line: int, act: Activation) -> None:
        """Enter one level of calls, faults or ``if`` blocks, within ``MAX_NESTING``."""
        self._nesting += 1
        if self._nesting > MAX_NESTING:
            self._nesting = 0
            raise InputError(
                self.sc.path,
                line,
                f"calls, page faults and 'if' blocks nested deeper than {MAX_NESTING}"
                f" (lockgraph's limit) in {self._outermost(act)}",
            )

    @staticmethod
    def _outermost(act: Activation) -> str:
        while act.parent is not None:
            act = act.parent
        return act.name

    def _if(
        self,
        act: Activation,
        step: IfStep,
        env: dict[str, str],
        ret: int | None,
        patches: list[Instr],
        enter_pc: int,
    ) -> None:
        self._nest(step.line, act)
        self._if_body(act, step, env, ret, patches, enter_pc)
        self._nesting -= 1

    def _if_body(
        self,
        act: Activation,
        step: IfStep,
        env: dict[str, str],
        ret: int | None,
        patches: list[Instr],
        enter_pc: int,
    ) -> None:
        cond: Condition = step.cond
        if cond.trylock is not None:
            t = cond.trylock
            lock, mode = self._lock(act, t.ref, t.mode, env, step.line, "trylock")
            head = self._emit(
                TRY,
                step.line,
                act,
                lock=lock,
                mode=mode,
                recursive=self._recursive(lock, mode),
                subclass=t.ref.subclass,
                text="trylock",
            )
        else:
            assert cond.flag is not None
            head = self._emit(
                BRANCH, step.line, act, slot=self._slot(act, cond.flag), value=cond.negate
            )
        then_pc = len(self.code)
        self._steps(act, step.then, env, ret, patches, enter_pc)
        jump = self._emit(JUMP, step.end_line, act) if step.orelse else None
        else_pc = len(self.code)
        self._steps(act, step.orelse, env, ret, patches, enter_pc)
        end_pc = len(self.code)
        if jump is not None:
            jump.target = end_pc
        if head.op == TRY:
            ok, fail = (else_pc, then_pc) if cond.negate else (then_pc, else_pc)
            head.target, head.target2 = ok, fail
        else:
            head.target = else_pc

    def _call(
        self,
        act: Activation,
        func: Function,
        raw: tuple[str, ...],
        env: dict[str, str],
        ret: int | None,
        line: int,
    ) -> None:
        if len(raw) != len(func.params):
            raise self.error(
                line,
                f"{func.name} takes {len(func.params)} argument"
                f"{'' if len(func.params) == 1 else 's'} ({', '.join(func.params)}),"
                f" {len(raw)} given",
                act,
            )
        a: Activation | None = act
        while a is not None:
            if a.function == func.name:
                raise self.error(line, f"recursive call of {func.name}", act)
            a = a.parent
        self._nest(line, act)
        self._call_body(act, func, raw, env, ret, line)
        self._nesting -= 1

    def _call_body(
        self,
        act: Activation,
        func: Function,
        raw: tuple[str, ...],
        env: dict[str, str],
        ret: int | None,
        line: int,
    ) -> None:
        self.reached.add(func.name)
        conditions = condition_names(func.steps)
        args = tuple(
            r if p in conditions else self._value(r, env)
            for p, r in zip(func.params, raw, strict=True)
        )
        display = f"{func.name}({', '.join(args)})"
        callee = self._activation(func.name, display, line, act, "call", func.neutral, func.name)
        callee.conditions = conditions
        if ret is not None:
            self._emit(SET, line, act, slot=ret, value=False)
        callee_env: dict[str, str] = {}
        for param, arg in zip(func.params, args, strict=False):
            if param in conditions:
                self._pass_condition(act, callee, param, arg, line)
            else:
                callee_env[param] = arg
        self._body(callee, func.steps, callee_env, ret)

    def _pass_condition(
        self, act: Activation, callee: Activation, param: str, arg: str, line: int
    ) -> None:
        """Bind a condition parameter: ``true``, ``false``, or the caller's condition's value."""
        slot = self._slot(callee, param)
        callee.fixed.add(slot)
        if arg in ("true", "false"):
            self._emit(SET, line, act, slot=slot, value=arg == "true")
            return
        if _symbolic(arg):
            return  # a function walked alone: both values are explored
        if arg not in act.conditions:
            raise self.error(
                line,
                f"argument {arg!r} for condition parameter {param!r} must be true, false"
                " or a condition of the caller",
                act,
            )
        # Passing forces the caller's choice now, so both sides agree on it later.
        branch = self._emit(BRANCH, line, act, slot=self._slot(act, arg), value=False)
        self._emit(SET, line, act, slot=slot, value=True)
        jump = self._emit(JUMP, line, act)
        branch.target = len(self.code)
        self._emit(SET, line, act, slot=slot, value=False)
        jump.target = len(self.code)

    def _fault(self, act: Activation, step: FaultStep, env: dict[str, str]) -> None:
        self._nest(step.line, act)
        self._fault_body(act, step, env)
        self._nesting -= 1

    def _fault_body(self, act: Activation, step: FaultStep, env: dict[str, str]) -> None:
        name = self._value(step.mapping, env)
        mapping = self.sc.mappings.get(name)
        if mapping is None and not _symbolic(name):
            raise self.error(step.line, f"unknown mapping {name!r}", act)
        fault = self._activation(
            f"page fault on {name}", f"page fault on {name}", step.line, act, "fault", True
        )
        ret = self._slot(act, step.result) if step.result else None
        if ret is not None:
            self._emit(SET, step.line, act, slot=ret, value=False)
        enter = self._emit(ENTER, 0, fault, text=fault.display, value=True)
        mm_lock, _ = self._lock(fault, LockRef(MMAP_LOCK, self.mm), "read", {}, step.line, "lock")
        recursive = self._recursive(mm_lock, "read")
        self._emit(
            LOCK, step.line, fault, lock=mm_lock, mode="read", recursive=recursive, text="lock"
        )
        if mapping is not None and mapping.fault is not None:
            call = mapping.fault
            func = self.sc.functions.get(call.function)
            if func is None:
                raise self.error(mapping.line, f"unknown function {call.function!r}")
            self._call(fault, func, call.args, {}, ret, mapping.line)
        self._emit(UNLOCK, step.line, fault, lock=mm_lock, text="unlock")
        self._emit(LEAVE, 0, fault, text=fault.display, value=True)
        enter.mask = fault.mask

    # -- names -------------------------------------------------------------------

    def _value(self, name: str, env: dict[str, str]) -> str:
        return env.get(name, name)

    def _slot(self, act: Activation, flag: str) -> int:
        slot = act.slots.get(flag)
        if slot is None:
            slot = act.slots[flag] = self._slots
            self._slots += 1
        return slot

    def _lock(
        self,
        act: Activation,
        ref: LockRef,
        mode: str | None,
        env: dict[str, str],
        line: int,
        verb: str,
    ) -> tuple[int, str]:
        cls = self.sc.classes.get(ref.cls)
        if cls is None:
            raise self.error(line, f"unknown lock class {ref.cls!r}", act)
        if ref.cls == MMAP_LOCK and ref.index is None:
            instance: str | None = self.mm
        elif ref.index is None:
            if cls.instances is not None:
                raise self.error(
                    line,
                    f"{ref.cls} has instances ({', '.join(cls.instances)}): say which,"
                    f" {ref.cls}[NAME]",
                    act,
                )
            instance = None
        else:
            instance = self._value(ref.index, env)
            if cls.instances is None:
                raise self.error(line, f"{ref.cls} has no instances: write {ref.cls} alone", act)
            if instance not in cls.instances and not _symbolic(instance):
                raise self.error(
                    line,
                    f"unknown instance {instance!r} of {ref.cls}"
                    f" (expected one of: {', '.join(cls.instances)})",
                    act,
                )
        chosen = mode or cls.modes[0]
        if chosen not in cls.modes:
            raise self.error(
                line,
                f"{cls.kind} {ref.cls} cannot be taken in mode {chosen!r}"
                f" (modes: {', '.join(cls.modes)})",
                act,
            )
        if verb == "freeze" and cls.kind not in ("percpu-rwsem", "rwsem"):
            raise self.error(line, f"freeze needs a percpu-rwsem, {ref.cls} is a {cls.kind}", act)
        return self._lock_id(cls, instance), chosen

    def _recursive(self, lock: int, mode: str) -> bool:
        """qrwlock (lockdep since v5.10): an rwlock read is recursive in interrupts only."""
        if mode == "recursive-read":
            return True
        return mode == "read" and self.locks[lock].kind == "rwlock" and self.context != "process"

    def _lock_id(self, cls: ClassDecl, instance: str | None) -> int:
        node = None if cls.cluster else self.node
        key = (cls.key, instance, node)
        lid = self._lock_ids.get(key)
        if lid is None:
            lid = self._lock_ids[key] = len(self.locks)
            label = cls.key if instance is None else f"{cls.key}[{instance}]"
            if node is not None and self.multi_node:
                label += f"@{node or '-'}"
            self.locks.append(LockInfo(lid, cls, instance, node, label))
        return lid

    def _event(self, act: Activation, step: EventStep, env: dict[str, str]) -> int:
        decl = self.sc.events.get(step.ref.event)
        if decl is None:
            raise self.error(step.line, f"unknown event {step.ref.event!r}", act)
        instance = None
        if step.ref.index is not None:
            instance = self._value(step.ref.index, env)
            if decl.instances is None:
                raise self.error(step.line, f"event {decl.key} has no instances", act)
            if instance not in decl.instances and not _symbolic(instance):
                raise self.error(
                    step.line,
                    f"unknown instance {instance!r} of event {decl.key}"
                    f" (expected one of: {', '.join(decl.instances)})",
                    act,
                )
        elif decl.instances is not None:
            raise self.error(
                step.line, f"event {decl.key} has instances: say which, {decl.key}[NAME]", act
            )
        key = (decl.key, instance, self.node)
        eid = self._event_ids.get(key)
        if eid is None:
            eid = self._event_ids[key] = len(self.events)
            label = decl.key if instance is None else f"{decl.key}[{instance}]"
            if self.multi_node:
                label += f"@{self.node or '-'}"
            self.events.append(EventInfo(eid, decl, instance, self.node, label))
        return eid


def condition_names(steps: tuple[Step, ...]) -> frozenset[str]:
    """Every local condition a list of steps mentions."""
    names: set[str] = set()
    for step in steps:
        if isinstance(step, IfStep):
            if step.cond.flag is not None:
                names.add(step.cond.flag)
            names |= condition_names(step.then) | condition_names(step.orelse)
        elif isinstance(step, SetStep):
            names.add(step.flag)
        elif isinstance(step, ReturnStep) and step.value not in (None, "true", "false"):
            assert step.value is not None
            names.add(step.value)
        elif isinstance(step, (CallStep, FaultStep)) and step.result:
            names.add(step.result)
    return frozenset(names)


def _symbolic(name: str) -> bool:
    return name.startswith("<")


def _futures(p: Program, nlocks: int) -> None:
    """Per pc: what the task may still touch (for partial-order reduction and hangs)."""
    code = p.code
    n = len(code)
    succ: list[list[int]] = []
    for pc, ins in enumerate(code):
        if ins.op == END:
            succ.append([])
        elif ins.op in (JUMP, RESTART):
            succ.append([ins.target])
        elif ins.op == BRANCH:
            succ.append([pc + 1, ins.target])
        elif ins.op == TRY:
            succ.append([ins.target, ins.target2])
        else:
            succ.append([pc + 1])
    locks: list[set[int]] = [set() for _ in range(n)]
    events: list[set[int]] = [set() for _ in range(n)]
    signals: list[set[int]] = [set() for _ in range(n)]
    for pc, ins in enumerate(code):
        if ins.op in (LOCK, UNLOCK, TRY):
            locks[pc].add(ins.lock)
        elif ins.op in (WAIT, SIGNAL, RESET):
            events[pc].add(ins.event)
            if ins.op == SIGNAL:
                signals[pc].add(ins.event)
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            for s in succ[pc]:
                if s < n:
                    for own, other in ((locks, locks), (events, events), (signals, signals)):
                        before = len(own[pc])
                        own[pc] |= other[s]
                        changed |= len(own[pc]) != before
    p.future_locks = [frozenset(s) for s in locks]
    p.future_events = [frozenset(s) for s in events]
    p.future_signals = [frozenset(s) for s in signals]
