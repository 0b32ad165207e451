"""Analysing trace files on Dask: files and byte ranges of them as partitions.

``analyze_files(paths, client=...)`` gives the run that ``read_traces`` and one
engine give (the same findings, ids, witnesses and event indexes), computed by
partitions that run anywhere:

* a file is a partition; a large plain file is cut into byte ranges at line
  boundaries, each its own partition;
* the locks a task holds cross a range boundary. A first pass (``scan_range``) reads
  each range and computes its *effect* per task: the locks it releases that it did
  not take in the range, the locks it still holds at the range's end, the forks,
  joins and signals it makes, and how many events and lines the range has. A prefix
  over the effects (``compose``) gives each range the state it starts with; a second
  pass (``run_piece``) builds the range's graph with that state preloaded and its
  event indexes starting where the range starts;
* the partitions' graphs are merged once (``engine.merge.merge_partitions``).

Dask is optional (``pip install 'lockgraph[dask]'``): this module imports it only
in the functions that talk to a cluster; the partitions' own work is plain
lockgraph. Without a client, the partitions run one after the other in this
process (what the tests compare against).
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import os
import sys
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lockgraph.engine import Mode, Run
from lockgraph.engine.merge import PartitionEngine, PartitionGraph, PartitionRun, merge_partitions
from lockgraph.engine.model import LockInstance, LockUse, Stack, Task
from lockgraph.errors import UsageError
from lockgraph.sources import FORMATS, _stem, detect_format
from lockgraph.sources.bulk import collector_paused
from lockgraph.sources.files import GZIP_MAGIC, open_binary, read_errors
from lockgraph.sources.std import StdReader
from lockgraph.sources.trace import TraceReader
from lockgraph.store import load_run

RANGE_BYTES = 16 << 20
"""The smallest range ``analyze_on_dask`` cuts a file into."""

INSTALL_HINT = "lockgraph: --dask needs Dask: pip install 'lockgraph[dask]'"


# -- the pieces: files and byte ranges -----------------------------------------


@dataclass(frozen=True)
class Piece:
    """One partition: a whole file (``end`` -1) or the lines starting in [start, end)."""

    path: str
    file: int
    """The file's position among the inputs."""
    namespace: str
    fmt: str
    start: int = 0
    end: int = -1
    part: int = 0
    last: bool = True

    @property
    def size(self) -> int:
        if self.end >= 0:
            return self.end - self.start
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0


def plan(paths: list[str], fmt: str = "auto", range_bytes: int = RANGE_BYTES) -> list[list[Piece]]:
    """The pieces of each file, in order (a file is cut only if plain and large)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
    several = len(paths) > 1
    seen: dict[str, int] = {}
    files = []
    for index, path in enumerate(paths):
        if path == "-":
            raise UsageError("--dask reads files, not standard input")
        stem = _stem(path)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:
            stem = f"{stem}#{seen[stem]}"
        namespace = f"{stem}:" if several else ""
        kind, compressed, size = _sniff(path, fmt)
        if compressed or size <= range_bytes:
            files.append([Piece(path, index, namespace, kind)])
            continue
        cuts = _cuts(path, size, range_bytes)
        bounds = list(zip([0, *cuts], [*cuts, size], strict=True))
        files.append(
            [
                Piece(path, index, namespace, kind, a, b, i, i == len(bounds) - 1)
                for i, (a, b) in enumerate(bounds)
            ]
        )
    return files


def _sniff(path: str, fmt: str) -> tuple[str, bool, int]:
    try:
        with open_binary(path) as stream:
            first = stream.readline().decode("utf-8", "replace")
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        size = os.path.getsize(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise read_errors(path, exc) from None
    kind = fmt if fmt != "auto" else detect_format(path, first)
    return kind, compressed, size


def _cuts(path: str, size: int, range_bytes: int) -> list[int]:
    """Offsets of line starts near every multiple of ``range_bytes``."""
    cuts: list[int] = []
    with open(path, "rb") as f:
        nominal = range_bytes
        while nominal < size:
            f.seek(nominal - 1)
            f.readline()  # to the end of the line holding byte nominal-1
            at = f.tell()
            if at >= size:
                break
            if not cuts or at > cuts[-1]:
                cuts.append(at)
            nominal = max(nominal + range_bytes, at + 1)
    return cuts


def cut(paths: list[str], fmt: str, cuts: dict[int, list[int]]) -> list[list[Piece]]:
    """Pieces cut at given offsets (``{file index: [offsets]}``): for tests."""
    files = plan(paths, fmt, range_bytes=1 << 62)
    out = []
    for index, (whole,) in enumerate(files):
        offsets = cuts.get(index)
        if not offsets:
            out.append([whole])
            continue
        size = os.path.getsize(whole.path)
        bounds = list(zip([0, *offsets], [*offsets, size], strict=True))
        out.append(
            [
                Piece(whole.path, index, whole.namespace, whole.fmt, a, b, i, i == len(bounds) - 1)
                for i, (a, b) in enumerate(bounds)
            ]
        )
    return out


def _lines(piece: Piece) -> Iterator[bytes]:
    if piece.end < 0:
        with open_binary(piece.path) as stream:
            yield from stream
        return
    with open(piece.path, "rb") as f:
        f.seek(piece.start)
        left = piece.end - piece.start
        while left > 0:
            line = f.readline(left)
            if not line:
                return
            left -= len(line)
            yield line


# -- pass 1: what a range does to the tasks' state ------------------------------

_ACQ, _REL, _WAIT, _SIGNAL, _FORK, _JOIN, _EXIT, _DECL = range(8)
_LG_OPS = {
    "acq": _ACQ,
    "try": _ACQ,
    "rel": _REL,
    "wait": _WAIT,
    "signal": _SIGNAL,
    "fork": _FORK,
    "join": _JOIN,
    "exit": _EXIT,
}
_DECLS = ("class", "lock", "task", "site")

Held = tuple[str, str, bool, "str | None", int]
"""(lock ref, mode, trylock, site ref, event index from the start of the file)."""


@dataclass
class Effect:
    """What one range does, as far as the ranges after it can tell."""

    events: int = 0
    lines: int = 0
    prelude: list[tuple[str, int, str]] = field(default_factory=list)
    """In order: declarations ("decl", line number, text) and first mentions of
    tasks ("task", 0, ref): what creates tasks and names, in the order it does."""
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    """In order: ("rel", task, lock) releases of locks taken before the range,
    ("fork", parent, child, write locks held in the range) and ("join", parent, child)."""
    held: dict[str, list[Held]] = field(default_factory=dict)
    """Locks taken in the range and still held at its end (event index in the range)."""
    epochs: dict[str, int] = field(default_factory=dict)
    ticks: dict[str, int] = field(default_factory=dict)
    signalled: dict[str, dict[str, int]] = field(default_factory=dict)
    acquired: dict[str, dict[tuple[str, str], tuple[int, str | None, int]]] = field(
        default_factory=dict
    )
    """Task -> {("lock"|"event"|"join", ref): (tick in the range, site ref, event index)}:
    the last acquisition of each lock (a wait: of its event; a join: of the child's)."""
    exited: set[str] = field(default_factory=set)
    owner: dict[str, str | None] = field(default_factory=dict)
    """The last owner of each lock the range took or released (None: released)."""
    depth: dict[str, int] = field(default_factory=dict)
    """Re-entries of reentrant locks taken in the range, at its end."""
    reentrant: set[str] = field(default_factory=set)
    ownerless: set[str] = field(default_factory=set)
    reentry: set[tuple[str, int]] = field(default_factory=set)
    """Acquisitions (task, event) by the lock's owner of a lock not known to be
    reentrant in the range (declared so in an earlier one: a re-entry)."""
    fresh: set[tuple[str, int]] = field(default_factory=set)
    """Acquisitions (task, event) of locks the range had not touched before: a
    reentrant lock the task held already when the range started is re-entered."""


def lock_options(piece: Piece) -> tuple[set[str], set[str]]:
    """Pass 0: the locks a range declares reentrant and ownerless.

    A lock is declared before its first use, once: the union over a file's ranges
    tells every range how each of its locks behaves.
    """
    reentrant: set[str] = set()
    ownerless: set[str] = set()
    if piece.fmt != "lockgraph":
        return reentrant, ownerless
    try:
        for raw in _lines(piece):
            if raw.startswith(b"lock ") and (b"reentrant" in raw or b"ownerless" in raw):
                eff = Effect()
                _declared(eff, raw.decode("utf-8", "replace"))
                reentrant |= eff.reentrant
                ownerless |= eff.ownerless
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(piece.path, exc) from None
    return reentrant, ownerless


def scan_range(piece: Piece, options: tuple[set[str], set[str]] | None = None) -> Effect:
    """Pass 1 over a range: its effect on the tasks' state (event indexes from 0).

    ``options``: the file's reentrant and ownerless locks (``lock_options``).
    """
    try:
        with collector_paused():
            return _scan(piece, options or (set(), set()))
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(piece.path, exc) from None


def _scan(piece: Piece, options: tuple[set[str], set[str]]) -> Effect:
    eff = Effect()
    reentrant, ownerless = options
    std = piece.fmt == "std"
    memo: dict[bytes, tuple[Any, ...] | None] = {}
    mentioned: set[str] = set()
    local: dict[str, list[list[Any]]] = {}
    segment: dict[str, set[tuple[Any, ...]]] = {}
    owner: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    lines = 0
    index = 0
    for lines, raw in enumerate(_lines(piece), 1):
        action = memo.get(raw, ())
        if action == ():
            text = raw.decode("utf-8", "replace")
            if piece.part == 0 and lines == 1 and not std:
                action = None  # the header
            else:
                action = _classify_std(text) if std else _classify(text)
            if action is not None and action[0] == _DECL:
                eff.prelude.append(("decl", lines, text))
                _declared(eff, text)
                continue  # declarations are never memoised: each is recorded
            memo[raw] = action
            if action is not None:
                for ref in action[1]:
                    if ref not in mentioned:
                        mentioned.add(ref)
                        eff.prelude.append(("task", 0, ref))
        if action is None:
            continue
        index += 1
        op = action[0]
        if op == _ACQ:
            _, (task,), lock, mode, trylock, site = action
            if (std or lock in reentrant) and owner.get(lock) == task:
                depth[lock] = depth.get(lock, 0) + 1  # re-entered: counted, not held
                continue
            stack = local.setdefault(task, [])
            if owner.get(lock) == task:
                eff.reentry.add((task, index))  # re-entered if declared reentrant before
            if lock not in owner:
                eff.fresh.add((task, index))  # its owner is what the range started with
            chain = (stack[-1][5] if stack else task, lock, mode, trylock)
            stack.append([lock, mode, trylock, site, index, chain])
            owner[lock] = task
            # The engine notes an acquisition once per chain and segment (its cache):
            # the first with this stack since the task's last signal, fork or join.
            seen = segment.setdefault(task, set())
            if chain not in seen:
                seen.add(chain)
                tick = eff.ticks.get(task, 0)
                eff.acquired.setdefault(task, {})[("lock", lock)] = (tick, site, index)
        elif op == _REL:
            _, (task,), lock, _ = action
            if depth.get(lock) and owner.get(lock) == task:
                depth[lock] -= 1
                continue
            stack = local.get(task) or []
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == lock:
                    entry = stack.pop(i)
                    _rekey(stack, i, task)
                    # A release leaves the lock without owner; a re-entry's release
                    # (if the lock is reentrant: only then does the owner matter)
                    # leaves it to the task.
                    owner[lock] = task if (task, entry[4]) in eff.reentry else None
                    depth.pop(lock, None)
                    break
            else:
                if lock in ownerless and _hand_over(local, task, lock):
                    owner[lock] = None  # a semaphore released by another task
                    continue
                eff.ops.append(("rel", task, lock))  # its owner: as the prefix says
        elif op == _WAIT:
            _, (task,), event, site = action
            tick = eff.ticks.get(task, 0)
            eff.acquired.setdefault(task, {})[("event", event)] = (tick, site, index)
        elif op == _SIGNAL:
            _, (task,), event, _ = action
            tick = eff.ticks.get(task, 0)
            eff.signalled.setdefault(task, {})[event] = tick
            eff.ticks[task] = tick + 1
            segment.pop(task, None)
        elif op == _FORK:
            _, (parent, child), _ = action
            writes = [(h[0], h[4]) for h in local.get(parent, ()) if h[1] == "w"]
            eff.ops.append(("fork", parent, child, writes))
            eff.epochs[parent] = eff.epochs.get(parent, 0) + 1
            segment.pop(parent, None)
        elif op == _JOIN:
            _, (parent, child), site = action
            eff.ops.append(("join", parent, child))
            tick = eff.ticks.get(parent, 0)
            eff.acquired.setdefault(parent, {})[("join", child)] = (tick, site, index)
            segment.pop(parent, None)
            eff.epochs[parent] = eff.epochs.get(parent, 0) + 1
        elif op == _EXIT:
            eff.exited.add(action[1][0])
    eff.events = index
    eff.lines = lines
    eff.owner = owner
    eff.depth = {lock: n for lock, n in depth.items() if n}
    for task, stack in local.items():
        if stack:
            eff.held[task] = [(h[0], h[1], h[2], h[3], h[4]) for h in stack]
    return eff


def _hand_over(local: dict[str, list[list[Any]]], task: str, lock: str) -> bool:
    """An ownerless lock released by ``task``: drop it from the first other holder."""
    for other, stack in local.items():
        if other == task:
            continue
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == lock:
                del stack[i]
                _rekey(stack, i, other)
                return True
    return False


def _rekey(stack: list[list[Any]], start: int, task: str) -> None:
    """The chain keys of the entries above a lock released out of order."""
    for i in range(start, len(stack)):
        h = stack[i]
        h[5] = (stack[i - 1][5] if i else task, h[0], h[1], h[2])


def _declared(eff: Effect, text: str) -> None:
    tokens = text.split()
    if tokens[0] == "lock" and len(tokens) >= 3:
        options = {t.partition("=")[0] for t in tokens[3:]}
        if "reentrant" in options:
            eff.reentrant.add(tokens[1])
        if "ownerless" in options:
            eff.ownerless.add(tokens[1])


def _classify(text: str) -> tuple[Any, ...] | None:
    """A lockgraph-format line as the first pass sees it (None: no event)."""
    tokens = text.split()
    if not tokens or tokens[0].startswith("#"):
        return None
    op = tokens[0]
    if op in _DECLS:
        return (_DECL,)
    code = _LG_OPS.get(op)
    if code is None:
        return None  # the second pass says what is wrong with it
    site = None
    if len(tokens) > 1 and tokens[-1].startswith("@"):
        site = tokens[-1][1:]
        tokens = tokens[:-1]
    try:
        if code == _ACQ:
            mode = Mode.parse(tokens[3]).letter if len(tokens) > 3 else "w"
            return (code, (tokens[1],), tokens[2], mode, op == "try", site)
        if code in (_REL, _WAIT, _SIGNAL):
            return (code, (tokens[1],), tokens[2], site)
        if code in (_FORK, _JOIN):
            return (code, (tokens[1], tokens[2]), site)
        return (code, (tokens[1],), site)
    except (IndexError, ValueError):
        return None


_STD_OPS = {
    "acq": _ACQ,
    "rel": _REL,
    "fork": _FORK,
    "join": _JOIN,
    "wait": _WAIT,
    "notify": _SIGNAL,
}


def _classify_std(text: str) -> tuple[Any, ...] | None:
    parts = text.rstrip("\r\n").split("|")
    if len(parts) != 3:
        return None
    thread, op, loc = parts
    kind, paren, rest = op.partition("(")
    code = _STD_OPS.get(kind)
    if code is None or not paren or not rest.endswith(")"):
        return None
    operand = rest[:-1]
    site = loc.strip()
    if code == _ACQ:
        return (code, (thread,), operand, "w", False, site)
    if code in (_FORK, _JOIN):
        child = f"T{operand}" if operand.isdigit() else operand
        return (code, (thread, child), site)
    return (code, (thread,), operand, site)


# -- the prefix: each range's starting state ------------------------------------


@dataclass
class Incoming:
    """The state a range starts with: what the events before it left."""

    events: int = 0
    """Events before the range, from the start of its file."""
    first_line: int = 1
    prelude: list[tuple[str, int, str]] = field(default_factory=list)
    held: dict[str, list[Held]] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    ticks: dict[str, int] = field(default_factory=dict)
    signalled: dict[str, dict[str, int]] = field(default_factory=dict)
    acquired: dict[str, dict[tuple[str, str], tuple[int, str | None, int]]] = field(
        default_factory=dict
    )
    exited: set[str] = field(default_factory=set)
    forked: dict[str, tuple[str, list[tuple[str, int]]]] = field(default_factory=dict)
    joined: list[str] = field(default_factory=list)


def compose(effects: list[Effect], std: bool) -> list[Incoming]:
    """The prefix over the ranges' effects: each range's starting state, in order."""
    out: list[Incoming] = []
    state = Incoming()
    order: dict[str, None] = {}
    reentrant: set[str] = set()
    ownerless: set[str] = set()
    for eff in effects:
        out.append(_copy(state))
        base = state.events
        reentrant |= eff.reentrant
        ownerless |= eff.ownerless
        for kind, _, ref in eff.prelude:
            if kind == "task":
                order.setdefault(ref, None)
        for op in eff.ops:
            if op[0] == "rel":
                _release(state, op[1], op[2], std or op[2] in reentrant, op[2] in ownerless, order)
            elif op[0] == "fork":
                _, parent, child, writes = op
                held = [(h[0], h[4]) for h in state.held.get(parent, ()) if h[1] == "w"]
                state.forked[child] = (parent, held + [(lock, base + ev) for lock, ev in writes])
            else:
                _, parent, child = op
                state.forked.pop(child, None)
                if child not in state.joined:
                    state.joined.append(child)
        before = dict(state.owner)  # a lock's owner until the range touches it
        for task, entries in eff.held.items():
            stack = state.held.setdefault(task, [])
            for lock, mode, trylock, site, ev in entries:
                if lock in reentrant and (task, ev) in eff.reentry:
                    state.depth[lock] = state.depth.get(lock, 0) + 1
                    continue
                if (
                    (std or lock in reentrant)
                    and (task, ev) in eff.fresh
                    and before.get(lock) == task
                    and any(h[0] == lock for h in stack)
                ):
                    state.depth[lock] = state.depth.get(lock, 0) + 1
                    continue
                stack.append((lock, mode, trylock, site, base + ev))
                state.owner[lock] = task
        for lock, n in eff.depth.items():
            state.depth[lock] = state.depth.get(lock, 0) + n
        for lock, who in eff.owner.items():
            if who is None:
                state.owner.pop(lock, None)
            else:
                state.owner[lock] = who
        for task, n in eff.epochs.items():
            state.epochs[task] = state.epochs.get(task, 0) + n
        for task, acquired in eff.acquired.items():
            tick = state.ticks.get(task, 0)
            into = state.acquired.setdefault(task, {})
            for key, (t, site, ev) in acquired.items():
                into[key] = (tick + t, site, base + ev)
        for task, signalled in eff.signalled.items():
            tick = state.ticks.get(task, 0)
            state.signalled.setdefault(task, {}).update(
                {event: tick + t for event, t in signalled.items()}
            )
        for task, n in eff.ticks.items():
            state.ticks[task] = state.ticks.get(task, 0) + n
        state.exited |= eff.exited
        state.prelude = state.prelude + [
            (kind, lineno + state.first_line - 1, text) for kind, lineno, text in eff.prelude
        ]
        state.events += eff.events
        state.first_line += eff.lines
        state.held = {t: s for t, s in state.held.items() if s}
    return out


def _release(
    state: Incoming, task: str, lock: str, reentrant: bool, ownerless: bool, order: dict[str, None]
) -> None:
    """A release of a lock taken before the range, as the engine does it."""
    if reentrant and state.depth.get(lock) and state.owner.get(lock) == task:
        state.depth[lock] -= 1
        return
    if _drop(state, task, lock):
        return
    if ownerless:
        for other in order:
            if other != task and _drop(state, other, lock):
                return


def _drop(state: Incoming, task: str, lock: str) -> bool:
    stack = state.held.get(task, [])
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][0] == lock:
            del stack[i]
            state.owner.pop(lock, None)
            state.depth.pop(lock, None)
            return True
    return False


def _copy(state: Incoming) -> Incoming:
    return Incoming(
        events=state.events,
        first_line=state.first_line,
        prelude=state.prelude,
        held={t: list(s) for t, s in state.held.items()},
        depth=dict(state.depth),
        owner=dict(state.owner),
        epochs=dict(state.epochs),
        ticks=dict(state.ticks),
        signalled={t: dict(s) for t, s in state.signalled.items()},
        acquired={t: dict(a) for t, a in state.acquired.items()},
        exited=set(state.exited),
        forked=dict(state.forked),
        joined=list(state.joined),
    )


# -- pass 2: a piece's graph -------------------------------------------------------


class _Names:
    """Refs of one file's format to engine objects (through its reader)."""

    def __init__(self, reader: TraceReader | StdReader) -> None:
        self.reader = reader

    def task(self, ref: str) -> Task:
        return self.reader._task(ref)

    def lock(self, ref: str) -> LockInstance:
        r = self.reader
        return r._lock(ref) if isinstance(r, TraceReader) else r._lock(ref)[0]

    def site(self, ref: str | None) -> Stack | None:
        if ref is None:
            return None
        r = self.reader
        return r._site(ref, 0) if isinstance(r, TraceReader) else r._site(ref)

    def event(self, ref: str) -> LockUse:
        r = self.reader
        if isinstance(r, TraceReader):
            return r._event(ref)
        return r.engine.event(f"(cond {ref})")

    def join_event(self, ref: str) -> LockUse:
        engine = self.reader.engine
        assert isinstance(engine, PartitionEngine)
        return engine.join_event(self.task(ref))

    def locks(self) -> dict[str, LockInstance]:
        r = self.reader
        if isinstance(r, TraceReader):
            return dict(r.locks)
        return {name: lock for name, (lock, _) in r.locks.items()}


def run_piece(piece: Piece, incoming: Incoming | None = None) -> PartitionRun:
    """Pass 2: the piece's graph, with the state of the events before it preloaded."""
    try:
        with collector_paused():
            return _run_piece(piece, incoming or Incoming())
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(piece.path, exc) from None


def _run_piece(piece: Piece, inc: Incoming) -> PartitionRun:
    engine = PartitionEngine()
    reader: TraceReader | StdReader
    if piece.fmt == "lockgraph":
        reader = TraceReader(engine, piece.path, piece.namespace)
    else:
        reader = StdReader(engine, piece.path, piece.namespace)
    names = _Names(reader)
    for kind, lineno, text in inc.prelude:
        if kind == "decl":
            reader.parse(text, lineno)
        else:
            names.task(text)
    _preload(engine, names, inc)
    engine.index = inc.events
    graph = engine.graph
    assert isinstance(graph, PartitionGraph)
    graph.recording = True
    lines = _lines(piece)
    if piece.part == 0:
        reader.read(lines)
    else:
        reader.replay(lines, first_line=inc.first_line)
    tasks = {id(t): ref for ref, t in reader.tasks.items()}
    task_keys: list[Hashable] = [(piece.file, tasks.get(id(t), t.name)) for t in engine.tasks]
    instance_keys: dict[int, Hashable] = {
        lock.id: (piece.file, ref) for ref, lock in names.locks().items()
    }
    for name, use in engine._events.items():
        instance_keys[use.lock.id] = ("event", name)
    result = engine.partition(task_keys, instance_keys, piece.last, (piece.file, piece.part))
    result.sources = [piece.path] if piece.part == 0 else []
    return result


def _preload(engine: PartitionEngine, names: _Names, inc: Incoming) -> None:
    for ref, stack in inc.held.items():
        task = names.task(ref)
        entries = []
        for lock_ref, mode, trylock, site, ev in stack:
            use = engine.use(names.lock(lock_ref), Mode.parse(mode), trylock)
            entries.append((use, names.site(site), ev))
        engine.preload(task, entries)
        for use, _, _ in entries:
            use.lock.owner = None  # the owners are the prefix's (below)
    for lock_ref, depth in inc.depth.items():
        names.lock(lock_ref).depth = depth
    for lock_ref, owner in inc.owner.items():
        names.lock(lock_ref).owner = names.task(owner)
    for ref, epoch in inc.epochs.items():
        names.task(ref).epoch = epoch
    for ref, tick in inc.ticks.items():
        names.task(ref).tick = tick
    for ref in inc.exited:
        names.task(ref).exited = True
    for ref, signalled in inc.signalled.items():
        task = names.task(ref)
        for event, tick in signalled.items():
            task.signalled[names.event(event).lock.cls.id] = tick
    for ref, acquired in inc.acquired.items():
        task = names.task(ref)
        latest: dict[int, tuple[int, int, Stack | None, LockInstance]] = {}
        for (kind, what), (tick, where, ev) in acquired.items():
            if kind == "lock":
                lock = names.lock(what)
            elif kind == "event":
                lock = names.event(what).lock
            else:
                lock = names.join_event(what).lock
            known = latest.get(lock.cls.id)
            if known is None or (tick, ev) > known[:2]:
                latest[lock.cls.id] = (tick, ev, names.site(where), lock)
        for cid, (tick, _, frames, lock) in latest.items():
            task.acquired[cid] = (tick, frames, lock)
    for child, (parent, held) in inc.forked.items():
        engine.forked(
            names.task(child), names.task(parent), [(names.lock(lk), ev) for lk, ev in held]
        )
    for child in inc.joined:
        engine.join_event(names.task(child))


# -- the whole analysis ------------------------------------------------------------


Progress = Callable[[int, int, int, int], None]
"""(pieces done, pieces, bytes done, bytes) after each piece."""


def analyze_files(
    paths: list[str],
    fmt: str = "auto",
    *,
    client: Any = None,
    range_bytes: int = RANGE_BYTES,
    pieces: list[list[Piece]] | None = None,
    progress: Progress | None = None,
) -> Run:
    """The run of ``paths`` (as ``read_traces`` into one engine builds it).

    ``client``: a ``dask.distributed.Client`` (None: every piece in this process).
    """
    files = pieces if pieces is not None else plan(paths, fmt, range_bytes)
    if client is None:
        results: list[PartitionRun] = []
        for fp in files:
            incoming = [Incoming()]
            if len(fp) > 1:
                options = _union([lock_options(p) for p in fp])
                effects = [*(scan_range(p, options) for p in fp[:-1]), Effect()]
                incoming = compose(effects, fp[0].fmt == "std")
            results.extend(run_piece(p, inc) for p, inc in zip(fp, incoming, strict=True))
        return _merge(files, results)
    return _on_dask(client, files, progress)


def _union(found: list[tuple[set[str], set[str]]]) -> tuple[set[str], set[str]]:
    reentrant: set[str] = set()
    ownerless: set[str] = set()
    for r, o in found:
        reentrant |= r
        ownerless |= o
    return reentrant, ownerless


def _merge(files: list[list[Piece]], results: list[PartitionRun]) -> Run:
    offset = 0
    k = 0
    for file_pieces in files:
        for _ in file_pieces:
            results[k].offset = offset
            k += 1
        offset += results[k - 1].events
    return merge_partitions(results)


def _on_dask(client: Any, files: list[list[Piece]], progress: Progress | None) -> Run:
    as_completed = _distributed().as_completed
    total_bytes = sum(p.size for fp in files for p in fp)
    n = sum(len(fp) for fp in files)
    futures: dict[tuple[int, int], Any] = {}
    scans: dict[int, list[Any]] = {}
    for fp in files:
        if len(fp) == 1:
            futures[(fp[0].file, 0)] = client.submit(run_piece, fp[0], None, pure=False)
        else:
            found = [client.submit(lock_options, p, pure=False) for p in fp]
            options = client.submit(_union, found, pure=False)
            scans[fp[0].file] = [client.submit(scan_range, p, options, pure=False) for p in fp[:-1]]
    for fp in files:
        if len(fp) > 1:
            effects = client.gather(scans[fp[0].file])
            effects.append(Effect())  # the last range's effect is not needed
            for p, inc in zip(fp, compose(effects, fp[0].fmt == "std"), strict=True):
                futures[(p.file, p.part)] = client.submit(run_piece, p, inc, pure=False)
    sizes = {(p.file, p.part): p.size for fp in files for p in fp}
    done_bytes = 0
    keys = {f.key: k for k, f in futures.items()}
    for done, future in enumerate(as_completed(list(futures.values())), 1):
        done_bytes += sizes[keys[future.key]]
        if progress is not None:
            progress(done, n, done_bytes, total_bytes)
    results = [futures[(p.file, p.part)].result() for fp in files for p in fp]
    return _merge(files, results)


def analyze_on_dask(
    paths: list[str],
    fmt: str = "auto",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    range_bytes: int | None = None,
) -> Run:
    """``lockgraph analyze --dask``: a client (a local cluster by default), the run."""
    client, cluster = client_for(scheduler, workers)
    line = ProgressLine("analysed", progress)
    try:
        if range_bytes is None:
            range_bytes = _range_bytes(paths, _workers(client))
        files = plan(paths, fmt, range_bytes)
        return analyze_files(paths, fmt, client=client, pieces=files, progress=line)
    finally:
        line.close()
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def session(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client for the duration of a ``with`` block (its local cluster too)."""
    client, cluster = client_for(scheduler, workers)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def load_runs(paths: list[str], client: Any) -> list[Run]:
    """The runs of data files, read on the cluster's workers (``combine --dask``)."""
    futures = [client.submit(load_run, p, pure=False) for p in paths]
    return list(client.gather(futures))


def _workers(client: Any) -> int:
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # a scheduler that does not say: assume one
        return 1


def _range_bytes(paths: list[str], workers: int) -> int:
    """Files are cut only when there are too few to keep the workers busy.

    Cutting costs a first pass over every range (``scan_range``, a few times slower
    per event than the analysis itself): with at least two files per worker, files
    are partitions enough. Otherwise ranges of about half of a worker's share.
    """
    if len(paths) >= 2 * workers:
        return 1 << 62
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += os.path.getsize(path)
    return max(RANGE_BYTES, total // (2 * workers) + 1)


def client_for(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A Dask client: of the scheduler at ``scheduler``, or of a local cluster of
    ``workers`` processes (default: the machine's cores). Returns (client, cluster)."""
    try:
        dist = _distributed()
    except ImportError:
        raise UsageError(INSTALL_HINT.removeprefix("lockgraph: ")) from None
    if scheduler:
        return dist.Client(scheduler), None
    cluster = dist.LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return dist.Client(cluster), cluster


def _distributed() -> Any:
    """``dask.distributed``, imported only when asked for (it is an optional extra)."""
    return importlib.import_module("distributed")


def dask_available() -> bool:
    try:
        _distributed()
    except ImportError:
        return False
    return True


class ProgressLine:
    """A progress line on standard error (when it is a terminal), rewritten in place."""

    def __init__(self, what: str, enabled: bool) -> None:
        self.what = what
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = done_bytes / elapsed / 1e6
        sys.stderr.write(
            f"\rlockgraph: {self.what} {done}/{total} partitions, "
            f"{done_bytes / 1e6:.0f} of {total_bytes / 1e6:.0f} MB, {rate:.1f} MB/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


__all__ = [
    "INSTALL_HINT",
    "Effect",
    "Incoming",
    "Piece",
    "ProgressLine",
    "analyze_files",
    "analyze_on_dask",
    "client_for",
    "compose",
    "cut",
    "dask_available",
    "load_runs",
    "lock_options",
    "plan",
    "run_piece",
    "scan_range",
    "session",
]
