"""lockdep's ``/proc`` files: the class graph, the chains and the statistics.

* ``/proc/lockdep``: ``all lock classes:``, then per class ``KEY [OPS: n] [FD: n BD:
  n] [USAGE]: NAME`` and one `` -> [KEY] NAME`` line per direct dependency. The
  ``OPS:`` column needs ``CONFIG_DEBUG_LOCKDEP``; ``FD``/``BD`` and the ``->`` lines
  need ``CONFIG_PROVE_LOCKING``; without it, kernels before 5.14 (4840ce2267f9)
  printed a meaningless ``....`` usage and a blank line per class, later ones
  neither. The usage has 6 characters from 2.6.30 to 4.13 (RECLAIM_FS), 4 after.
  Keys are raw addresses before 4.15 and hashed after. A class read while lockdep
  zaps it can print a garbage name (kept as printed, control bytes replaced).
* ``/proc/lockdep_chains``: ``all lock chains:`` (``(buggered) `` first when chain
  hlocks ran out), then per chain ``irq_context: 0|hardirq|softirq|hardirq|softirq``
  and one ``[KEY] NAME`` per held class, oldest first.
* ``/proc/lockdep_stats`` (``label: value [max: n]``) and ``/proc/lock_stat``
  (``lock_stat version 0.3/0.4``, one row of 12 numbers per class, ``-W``/``-R`` for
  read/write split classes, contention points): read into tables.

Lines that fit none of these (shell prompts, ``#`` comments, mail quotes removed
first) are skipped and counted. ``feed_lockdep`` and ``feed_chains`` turn the graph
into engine events: one task per class (or chain) takes each class it depends on,
so the engine finds every cycle and no cycle looks like one task's doing. The files
record classes only, so instance-level precision is ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lockgraph.engine import Engine, Frame, LockInstance, LockUse, Mode
from lockgraph.engine.analysis import Run
from lockgraph.kernel.limits import number, shown
from lockgraph.kernel.model import KFrame, Splat
from lockgraph.kernel.signature import from_key_frame

_CLASS = re.compile(
    r"^\s*(?P<key>(?:0x)?[0-9a-f]{6,16})(?: OPS: *(?P<ops>\d+))?"
    r"(?: FD: *(?P<fd>\d+) BD: *(?P<bd>\d+))?(?: (?P<usage>[-+.?]{4,12}))?: (?P<name>.*)$"
)
_DEP = re.compile(r"^\s*-> \[(?P<key>(?:0x)?[0-9a-f]{6,16})\] (?P<name>.*)$")
_CHAIN_HEAD = re.compile(r"^\s*irq_context: (?P<ctx>\S+)\s*$")
_CHAIN_LOCK = re.compile(r"^\s*\[(?P<key>(?:0x)?[0-9a-f]{6,16})\] (?P<name>.*)$")
_STAT = re.compile(
    r"^\s*(?P<label>[a-zA-Z][\w \-()]*?):\s+(?P<value>\d+)(?:\s+\d+)*"
    r"(?: \[max: (?P<max>\d+)\])?\s*$"
)
_DOC_NUMBER = re.compile(r"^\s*\d\d(?=[ \-.]|$)")
_LOCK_STAT_VERSION = re.compile(r"^\s*lock_stat version (?P<v>[\d.]+)")
_LOCK_STAT_ROW = re.compile(r"^\s*(?P<name>\S.*?)(?:-(?P<rw>[WR]))?:\s+(?P<nums>\d[\d.\s]*)$")
_LOCK_STAT_POINT = re.compile(
    r"^\s*(?P<name>\S.*?)\s+(?P<count>\d+)\s+\[<(?P<ip>[0-9a-fx]+)>\] (?P<symbol>\S+)\s*$"
)
_QUOTE = re.compile(r"^\s{0,3}(?:> ?)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ProcClass:
    key: str
    name: str
    line: int = 0
    ops: int | None = None
    forward: int | None = None
    """FD: classes reachable from this one."""
    backward: int | None = None
    """BD: classes this one is reachable from."""
    usage: str = ""
    deps: list[tuple[str, str]] = field(default_factory=list)
    """Direct dependencies: (key, name) of each class taken while this one was held."""


@dataclass
class ProcChain:
    irq_context: str
    classes: list[tuple[str, str]] = field(default_factory=list)
    line: int = 0


@dataclass
class ProcFile:
    """Whatever lockdep ``/proc`` file was read."""

    kind: str = "unknown"
    """``lockdep``, ``lockdep_chains``, ``lockdep_stats``, ``lock_stat`` or ``unknown``."""
    classes: list[ProcClass] = field(default_factory=list)
    chains: list[ProcChain] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    maxima: dict[str, int] = field(default_factory=dict)
    lock_stat: list[dict[str, object]] = field(default_factory=list)
    version: str = ""
    """``lock_stat version``."""
    buggered: bool = False
    skipped: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)
    """Lines skipped for a bad value (``line N: ...``), among ``skipped``."""

    @property
    def dependencies(self) -> int:
        return sum(len(c.deps) for c in self.classes)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "classes": [
                {
                    "key": c.key,
                    "name": c.name,
                    "ops": c.ops,
                    "forward": c.forward,
                    "backward": c.backward,
                    "usage": c.usage,
                    "dependencies": [{"key": k, "name": n} for k, n in c.deps],
                }
                for c in self.classes
            ],
            "chains": [
                {"irq_context": ch.irq_context, "classes": [n for _, n in ch.classes]}
                for ch in self.chains
            ],
            "stats": self.stats,
            "maxima": self.maxima,
            "lock_stat": self.lock_stat,
            "version": self.version,
            "buggered": self.buggered,
            "skipped_lines": self.skipped,
            "problems": self.problems,
        }


def parse_proc(text: str) -> ProcFile:
    """Read any lockdep ``/proc`` file; the kind is told from its lines."""
    lines = [_QUOTE.sub("", raw.rstrip("\r\n")) for raw in text.splitlines()]
    body = [x for x in lines if x.strip() and not x.lstrip().startswith("#")]
    if body and sum(1 for x in body if _DOC_NUMBER.match(x)) >= 0.8 * len(body):
        # documentation copies number their lines ("01 lock_stat version 0.4")
        lines = [_DOC_NUMBER.sub("", x, count=1) for x in lines]
    out = ProcFile(lines=len(lines))
    out.kind = detect(lines)
    if out.kind == "lockdep":
        _lockdep(lines, out)
    elif out.kind == "lockdep_chains":
        _chains(lines, out)
    elif out.kind == "lock_stat":
        _lock_stat(lines, out)
    elif out.kind == "lockdep_stats":
        _stats(lines, out)
    else:
        out.skipped = len(lines)
    return out


def detect(lines: list[str]) -> str:
    score = {"lockdep": 0, "lockdep_chains": 0, "lock_stat": 0, "lockdep_stats": 0}
    for line in lines[:4000]:
        s = line.strip()
        if s.endswith("all lock classes:") or _DEP.match(line):
            score["lockdep"] += 3
        elif _CLASS.match(line):
            score["lockdep"] += 1
        elif s.endswith("all lock chains:") or _CHAIN_HEAD.match(line):
            score["lockdep_chains"] += 3
        elif _LOCK_STAT_VERSION.match(line):
            score["lock_stat"] += 50
        elif _STAT.match(line):
            score["lockdep_stats"] += 1
    best = max(score, key=lambda k: score[k])
    return best if score[best] else "unknown"


def _name(raw: str, key: str) -> str:
    name = _CONTROL.sub("?", raw.strip())
    return name or key


def _lockdep(lines: list[str], out: ProcFile) -> None:
    current: ProcClass | None = None
    for no, line in enumerate(lines, 1):
        if not line.strip() or line.strip() == "all lock classes:":
            continue
        d = _DEP.match(line)
        if d and current is not None:
            current.deps.append((_key(d["key"]), _name(d["name"], d["key"])))
            continue
        c = _CLASS.match(line)
        if c:
            current = ProcClass(
                _key(c["key"]),
                _name(c["name"], c["key"]),
                no,
                number(c["ops"] or "", 10**18),
                number(c["fd"] or "", 10**18),
                number(c["bd"] or "", 10**18),
                c["usage"] or "",
            )
            out.classes.append(current)
            continue
        out.skipped += 1


def _chains(lines: list[str], out: ProcFile) -> None:
    current: ProcChain | None = None
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            current = None
            continue
        if s.endswith("all lock chains:"):
            out.buggered = out.buggered or s.startswith("(buggered)")
            continue
        h = _CHAIN_HEAD.match(line)
        if h:
            current = ProcChain(h["ctx"], line=no)
            out.chains.append(current)
            continue
        c = _CHAIN_LOCK.match(line)
        if c and current is not None:
            current.classes.append((_key(c["key"]), _name(c["name"], c["key"])))
            continue
        out.skipped += 1


def _stats(lines: list[str], out: ProcFile) -> None:
    for line in lines:
        m = _STAT.match(line)
        if m is None:
            if line.strip():
                out.skipped += 1
            continue
        label = m["label"].strip()
        value = number(m["value"], 10**18)
        if value is None:
            out.skipped += 1
            continue
        out.stats[label] = value
        top = number(m["max"] or "", 10**18)
        if top is not None:
            out.maxima[label] = top


_LOCK_STAT_COLUMNS = (
    "con-bounces",
    "contentions",
    "waittime-min",
    "waittime-max",
    "waittime-total",
    "waittime-avg",
    "acq-bounces",
    "acquisitions",
    "holdtime-min",
    "holdtime-max",
    "holdtime-total",
    "holdtime-avg",
)


_DECIMAL = re.compile(r"\d{1,18}(?:\.\d{1,18})?")


def _stat_number(text: str) -> int | float | None:
    """A lock_stat column: a count, or a time in microseconds with two decimals."""
    if not _DECIMAL.fullmatch(text):
        return None
    return float(text) if "." in text else int(text)


def _lock_stat(lines: list[str], out: ProcFile) -> None:
    current: dict[str, object] | None = None
    for no, line in enumerate(lines, 1):
        s = line.strip()
        if not s or set(s) <= {"-", "."} or s.startswith("class name"):
            continue
        v = _LOCK_STAT_VERSION.match(line)
        if v:
            out.version = v["v"]
            continue
        row = _LOCK_STAT_ROW.match(line)
        if row:
            values = [_stat_number(x) for x in row["nums"].split()]
            if None in values:
                bad = next(x for x in row["nums"].split() if _stat_number(x) is None)
                out.problems.append(f"line {no}: lock_stat row with a bad number {shown(bad)!r}")
                out.skipped += 1
                current = None
                continue
            current = {"class": row["name"].strip(), "rw": row["rw"] or ""}
            current.update(zip(_LOCK_STAT_COLUMNS, values, strict=False))
            current["points"] = []
            out.lock_stat.append(current)
            continue
        point = _LOCK_STAT_POINT.match(line)
        if point and current is not None:
            points = current["points"]
            assert isinstance(points, list)
            points.append(
                {
                    "count": number(point["count"], 10**18),
                    "ip": point["ip"],
                    "symbol": point["symbol"],
                }
            )
            continue
        out.skipped += 1


def _key(key: str) -> str:
    k = key.lower().removeprefix("0x").lstrip("0")
    return k or "0"


# -- into the engine ---------------------------------------------------------------


class GraphFeeder:
    """Turns class lists, chains and report chains into engine events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.locks: dict[str, LockInstance] = {}
        self.uses: dict[tuple[str, bool], LockUse] = {}
        self.imported: set[tuple[int, int]] = set()
        """Class-id pairs whose dependencies come from class-only sources."""

    def lock(self, name: str) -> LockInstance:
        lock = self.locks.get(name)
        if lock is None:
            cls = self.engine.lock_class(name)
            lock = self.locks[name] = self.engine.lock(name, cls)
        return lock

    def use(self, name: str, trylock: bool = False) -> LockUse:
        key = (name, trylock)
        use = self.uses.get(key)
        if use is None:
            use = self.uses[key] = self.engine.use(self.lock(name), Mode.WRITE, trylock)
        return use

    def feed_lockdep(self, parsed: ProcFile, label: str = "lockdep") -> int:
        """One task per class: it holds the class and takes each of its dependencies."""
        engine = self.engine
        by_key = {c.key: c.name for c in parsed.classes}
        count = 0
        for c in parsed.classes:
            if not c.deps:
                continue
            task = engine.task(f"{label}:{c.name}")
            outer = self.use(c.name)
            engine.acquire(task, outer)
            for key, name in c.deps:
                target = by_key.get(key, name)
                if target == c.name:
                    continue
                engine.acquire(task, self.use(target))
                engine.release(task, self.lock(target))
                self._imported(c.name, target)
                count += 1
            engine.release(task, outer.lock)
        return count

    def feed_chains(self, parsed: ProcFile, label: str = "chain") -> int:
        """One task per chain: it takes the chain's classes in order, then lets go."""
        engine = self.engine
        for i, chain in enumerate(parsed.chains, 1):
            task = engine.task(f"{label}#{i}:{chain.irq_context}")
            held: list[str] = []
            for _, name in chain.classes:
                # a class held twice was annotated for lockdep (a nest lock, a
                # recursive reader): take it again as a trylock, which adds nothing
                engine.acquire(task, self.use(name, trylock=name in held))
                for h in held:
                    if h != name:
                        self._imported(h, name)
                held.append(name)
            for name in reversed(held):
                engine.release(task, self.lock(name))
        return len(parsed.chains)

    def feed_report(self, report: Splat, label: str) -> int:
        """A report's dependencies: its cycle's, and the order of its held locks."""
        engine = self.engine
        count = 0
        for dep in report.cycle:
            if "?" in (dep.holder, dep.acquired) or dep.holder == dep.acquired:
                continue
            task = engine.task(f"{label}#{dep.entry if dep.entry >= 0 else '?'}")
            holder_site = None
            if dep.current and report.holding is not None:
                holder_site = _site(report.holding.at)
            engine.acquire(task, self.use(dep.holder), holder_site)
            engine.acquire(task, self.use(dep.acquired), _site(dep.stack))
            engine.release(task, self.lock(dep.acquired))
            engine.release(task, self.lock(dep.holder))
            self._imported(dep.holder, dep.acquired)
            count += 1
        names = [h.lock.name for h in report.held]
        if len(names) > 1:
            task = engine.task(f"{label}:held")
            taken: list[str] = []
            for h in report.held:
                name = h.lock.name
                engine.acquire(task, self.use(name, trylock=name in taken), _site(h.lock.at))
                for before in taken:
                    if before != name:
                        self._imported(before, name)
                taken.append(name)
                count += 1
            for name in reversed(taken):
                engine.release(task, self.lock(name))
        return count

    def _imported(self, a: str, b: str) -> None:
        graph = self.engine.graph
        ca, cb = graph.find_class(a), graph.find_class(b)
        if ca is not None and cb is not None:
            self.imported.add((ca.id, cb.id))

    def class_only(self, run: Run) -> None:
        """Dependencies known only as classes: instance-level precision is unknown."""
        for key in self.imported:
            edge = run.graph.edges.get(key)
            if edge is not None:
                edge.instances.clear()
                edge.instances_complete = False


def _site(frames: list[KFrame]) -> tuple[Frame, ...] | None:
    stack = tuple(f.site_frame() for f in frames if not f.unreliable)
    return from_key_frame(stack) or None
