"""The data file: an SQLite database holding a run and its findings.

Every source (trace analysis, the Python runtime, the kernel readers) writes the
same file, and every report can be rendered from it without the original input.
Files from parallel processes merge with ``combine`` (the engine's ``merge_runs``,
re-exported here), which keeps every dependency.

Writing is atomic: the database is built in a temporary file beside the target and
renamed over it, so a process killed while writing leaves the old file (or none),
never a corrupt one, and concurrent writers never interleave.

Schema versions (``SCHEMA_VERSION``):

1. meta, classes, tasks, instances, edges (with witnesses, instance samples, gate
   locks and occurrences as JSON), happens-before links, critical sections inherited
   across fork and join, online cycles, event findings and the analysed findings
   (JSON, ``findings.FINDINGS_VERSION``).
2. findings gain the verdicts: columns ``suppressed`` (held back by the user, apart
   from ``pruned``: ruled out by the code) and ``confirmed`` (1, 0, or NULL: not
   checked); their JSON (findings version 2) adds the witness schedule, the reason a
   cycle is not confirmed, the method, and the pattern counts. Version 1 files are
   still read: their findings are not checked, and a suppression they wrote as
   ``pruned = "suppressed: PATTERN"`` is read as suppressed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sqlite3
import time
import types
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote

from lockgraph import __version__
from lockgraph.engine import Run
from lockgraph.engine.findings import FINDINGS_VERSION, KINDS, Finding
from lockgraph.engine.graph import Edge, Step, Witness
from lockgraph.engine.merge import merge_runs  # noqa: F401 - re-exported for users
from lockgraph.engine.model import ClassKind, DepType, Frame, LockClass, Mode, Stack
from lockgraph.errors import DataError
from lockgraph.sources.bulk import collector_paused

SCHEMA_VERSION = 2
READABLE_VERSIONS = ("1", "2")
"""The schema versions this lockgraph reads (it writes ``SCHEMA_VERSION``)."""
APPLICATION_ID = 0x4C4B4752  # "LKGR": marks the file as lockgraph's

DEFAULT_NAME = ".lockgraph"


def _new_temporary(directory: str) -> str:
    """A new empty file beside the target, with the mode ``open()`` gives (the umask's)."""
    while True:
        name = os.path.join(directory, f".lockgraph-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return name


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, subclass INTEGER NOT NULL,
    kind TEXT NOT NULL, site TEXT
);
CREATE TABLE tasks (id INTEGER PRIMARY KEY, name TEXT NOT NULL, node TEXT NOT NULL);
CREATE TABLE instances (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE edges (
    src INTEGER NOT NULL REFERENCES classes(id), dst INTEGER NOT NULL REFERENCES classes(id),
    bits INTEGER NOT NULL, count INTEGER NOT NULL, witnesses TEXT NOT NULL,
    instances TEXT NOT NULL, instances_complete INTEGER NOT NULL, gate TEXT,
    occurrences TEXT NOT NULL, occurrences_complete INTEGER NOT NULL,
    PRIMARY KEY (src, dst)
);
CREATE TABLE hb_links (
    before_task INTEGER NOT NULL, before_epoch INTEGER NOT NULL,
    after_task INTEGER NOT NULL, after_epoch INTEGER NOT NULL
);
CREATE TABLE hb_epochs (task INTEGER PRIMARY KEY, last_epoch INTEGER NOT NULL);
CREATE TABLE cycles (ord INTEGER PRIMARY KEY, steps TEXT NOT NULL, event INTEGER NOT NULL,
    task INTEGER NOT NULL);
CREATE TABLE inherited (task INTEGER NOT NULL, instance INTEGER NOT NULL,
    holder INTEGER NOT NULL, event INTEGER NOT NULL, PRIMARY KEY (task, instance));
CREATE TABLE event_findings (ord INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE findings (
    ord INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, pruned TEXT NOT NULL,
    suppressed TEXT NOT NULL, confirmed INTEGER, json TEXT NOT NULL
);
"""


def save(
    path: str, run: Run, findings: list[Finding], extra_meta: dict[str, str] | None = None
) -> None:
    """Write ``run`` and its ``findings`` to ``path``, atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        tmp = _new_temporary(directory)
    except OSError as exc:
        raise DataError(f"Couldn't write data file {path!r}: {exc.strerror or exc}") from None
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.executescript(_SCHEMA)
            _write(db, run, findings, extra_meta or {})
            db.commit()
        os.replace(tmp, path)
    except OSError as exc:  # its text would name the temporary file: name the data file
        raise DataError(f"Couldn't write data file {path!r}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise DataError(f"Couldn't write data file {path!r}: {exc}") from None
    except OverflowError as exc:  # a number beyond SQLite's 64 bits
        raise DataError(f"Couldn't write data file {path!r}: {_too_big(run, exc)}") from None
    except UnicodeEncodeError as exc:  # a name that is not text (a lone surrogate)
        raise DataError(
            f"Couldn't write data file {path!r}: a name is not valid text: {exc.reason}"
        ) from None
    except UnicodeError as exc:
        raise DataError(f"Couldn't write data file {path!r}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write(
    db: sqlite3.Connection, run: Run, findings: list[Finding], extra: dict[str, str]
) -> None:
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "findings_version": str(FINDINGS_VERSION),
        "lockgraph_version": __version__,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "events": str(run.events),
        "sources": json.dumps(run.sources),
        **extra,
    }
    texts = _source_lines(run)
    if texts:  # a meta key, so readers that predate source lines read the file as before
        meta["source_lines"] = json.dumps(texts, sort_keys=True)
    db.executemany("INSERT INTO meta VALUES (?, ?)", sorted((k, _text(v)) for k, v in meta.items()))
    db.executemany(
        "INSERT INTO classes VALUES (?, ?, ?, ?, ?)",
        (
            (c.id, _text(c.name), c.subclass, c.kind.value, _stack_json(c.site))
            for c in run.graph.classes
        ),
    )
    db.executemany(
        "INSERT INTO tasks VALUES (?, ?, ?)",
        ((i, _text(name), _text(node)) for i, (name, node) in enumerate(run.tasks)),
    )
    db.executemany(
        "INSERT INTO instances VALUES (?, ?)",
        ((i, _text(n)) for i, n in sorted(run.instances.items())),
    )
    db.executemany(
        "INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (_edge_row(e) for e in run.graph.edges.values()),
    )
    db.executemany(
        "INSERT INTO hb_links VALUES (?, ?, ?, ?)",
        ((bt, be, at, ae) for (bt, be), afters in run.hb.after.items() for at, ae in afters),
    )
    db.executemany("INSERT INTO hb_epochs VALUES (?, ?)", sorted(run.hb.last_epoch.items()))
    db.executemany(
        "INSERT INTO cycles VALUES (?, ?, ?, ?)",
        (
            (i, json.dumps([[e.src.id, e.dst.id, bit] for e, bit in steps]), event, task)
            for i, (steps, event, task) in enumerate(run.cycles)
        ),
    )
    db.executemany(
        "INSERT INTO inherited VALUES (?, ?, ?, ?)",
        (
            (task, lock, holder, event)
            for task, sections in sorted(run.inherited.items())
            for lock, (holder, event) in sorted(sections.items())
        ),
    )
    db.executemany(
        "INSERT INTO event_findings VALUES (?, ?)",
        ((i, json.dumps(f.to_json())) for i, f in enumerate(run.event_findings)),
    )
    db.executemany(
        "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                i,
                f.id,
                f.kind,
                f.pruned,
                f.suppressed,
                None if f.confirmed is None else int(f.confirmed),
                json.dumps(f.to_json()),
            )
            for i, f in enumerate(findings)
        ),
    )


def _text(value: str) -> str:
    """``value`` as SQLite can store it: a name made from an undecodable file name
    (surrogate escapes) gets U+FFFD in their place."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            raw = value.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "replace")
    return value


def _edge_row(e: Edge) -> tuple[Any, ...]:
    witnesses = {str(bit): _witness_json(w) for bit, w in sorted(e.witnesses.items())}
    return (
        e.src.id,
        e.dst.id,
        e.bits,
        e.count,
        json.dumps(witnesses),
        json.dumps(sorted(e.instances)),
        int(e.instances_complete),
        None if e.gate is None else json.dumps(sorted(e.gate)),
        json.dumps(sorted(e.occurrences)),
        int(e.occurrences_complete),
    )


def _witness_json(w: Witness) -> dict[str, Any]:
    return {
        "task": w.task,
        "holder_site": _stack_list(w.holder_site),
        "acquirer_site": _stack_list(w.acquirer_site),
        "event": w.event,
        "holder_mode": int(w.holder_mode),
        "acquirer_mode": int(w.acquirer_mode),
        "holder_instance": w.holder_instance,
        "acquirer_instance": w.acquirer_instance,
    }


def _source_lines(run: Run) -> dict[str, str]:
    """``file:line`` -> source text, for every frame that carries one."""
    texts: dict[str, str] = {}
    stacks = [c.site for c in run.graph.classes]
    for e in run.graph.edges.values():
        for w in e.witnesses.values():
            stacks += [w.holder_site, w.acquirer_site]
    for stack in stacks:
        for f in stack or ():
            if f.source:
                texts[f"{f.file}:{f.line}"] = f.source
    return texts


def _stack_list(stack: Stack | None) -> list[list[Any]] | None:
    return None if stack is None else [[f.file, f.line, f.function] for f in stack]


def _stack_json(stack: Stack | None) -> str | None:
    return None if stack is None else json.dumps(_stack_list(stack))


def _stack(data: list[list[Any]] | None, frames: dict[tuple[Any, ...], Frame]) -> Stack | None:
    """A stack from its JSON form; ``frames`` shares equal frames between stacks (and
    holds the source lines under the key ``None``)."""
    if data is None:
        return None
    texts: Any = frames.get(None)  # type: ignore[call-overload]
    out = []
    for a, b, c in data:
        frame = frames.get((a, b, c))
        if frame is None:
            text = texts.get(f"{a}:{b}", "") if texts else ""
            frame = frames[(a, b, c)] = Frame(str(a), int(b), str(c), text)
        out.append(frame)
    return tuple(out)


# -- reading --------------------------------------------------------------------


@contextmanager
def _open(path: str) -> Iterator[sqlite3.Connection]:
    if not os.path.exists(path):
        raise DataError(f"Couldn't read data file {path!r}: no such file")
    try:
        uri = "file:" + _uri_path(path) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise DataError(f"Couldn't read data file {path!r}: {exc}") from None
    try:
        yield db
    except sqlite3.DatabaseError as exc:
        raise DataError(f"Couldn't read data file {path!r}: {_explain(exc)}") from None
    except _DAMAGE as exc:  # text that is not UTF-8 in SQLite's own tables, ...
        raise DataError(f"Couldn't read data file {path!r}: damaged: {exc}") from None
    finally:
        db.close()


def _uri_path(path: str) -> str:
    return quote(os.path.abspath(path))


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "file is not a database" in text or "file is encrypted" in text:
        return "not an SQLite database (is it a lockgraph data file?)"
    return text


def _check(db: sqlite3.Connection, path: str) -> dict[str, str]:
    app = db.execute("PRAGMA application_id").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app != APPLICATION_ID or "meta" not in tables:
        raise DataError(f"Couldn't read data file {path!r}: not a lockgraph data file")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    version = meta.get("schema_version", "?")
    if version not in READABLE_VERSIONS:
        raise DataError(
            f"Couldn't read data file {path!r}: schema version {version}, "
            f"this lockgraph reads versions {', '.join(READABLE_VERSIONS)}"
        )
    try:
        if meta_events(meta) < 0 or not _checker(list[str])(meta_sources(meta), set()):
            raise ValueError
    except _DAMAGE:
        raise DataError(
            f"Couldn't read data file {path!r}: damaged: bad 'events' or 'sources' in its meta"
        ) from None
    return meta


def read_meta(path: str) -> dict[str, str]:
    with _open(path) as db:
        return _check(db, path)


def meta_events(meta: dict[str, str]) -> int:
    """The number of events the run read (``meta`` from ``read_meta``)."""
    return int(meta.get("events", "0"))


def meta_sources(meta: dict[str, str]) -> list[str]:
    """What the run was made from (``meta`` from ``read_meta``)."""
    return list(json.loads(meta.get("sources", "[]")))


def load_findings(path: str) -> list[Finding]:
    """The findings stored in a data file, in report order."""
    with _open(path) as db:
        _check(db, path)
        rows = db.execute("SELECT json FROM findings ORDER BY ord").fetchall()
        try:
            return [_finding(r[0]) for r in rows]
        except _DAMAGE as exc:
            raise DataError(f"Couldn't read data file {path!r}: bad finding: {exc}") from None


def graph_counts(path: str) -> tuple[int, int, int]:
    """(lock classes, dependencies, tasks) of a data file, without reading the run."""
    with _open(path) as db:
        _check(db, path)
        classes = db.execute("SELECT COUNT(*) FROM classes").fetchone()[0]
        deps = db.execute("SELECT COUNT(*) FROM edges WHERE bits != 0").fetchone()[0]
        tasks = db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        return int(classes), int(deps), int(tasks)


def load_run(path: str) -> Run:
    """The run stored in a data file (to combine, chart or re-analyse)."""
    with _open(path) as db:
        meta = _check(db, path)
        try:
            with collector_paused():
                run = _read_run(db, meta)
            _check_run(run)
            return run
        except _DAMAGE as exc:
            raise DataError(f"Couldn't read data file {path!r}: damaged: {exc}") from None


def _read_run(db: sqlite3.Connection, meta: dict[str, str]) -> Run:
    run = Run(events=meta_events(meta), sources=meta_sources(meta))
    graph = run.graph
    frames: dict[tuple[Any, ...], Frame] = {}
    if "source_lines" in meta:
        frames[None] = json.loads(meta["source_lines"])  # type: ignore[index]
    ids: dict[int, int] = {}
    for cid, name, sub, kind, site in db.execute("SELECT * FROM classes ORDER BY id"):
        stack = _stack(json.loads(site), frames) if site else None
        cls = graph.lock_class(name, sub, ClassKind(kind), stack)
        ids[cid] = cls.id
    run.tasks = [(n, node) for _, n, node in db.execute("SELECT * FROM tasks ORDER BY id")]
    run.instances = dict(db.execute("SELECT id, name FROM instances").fetchall())
    for row in db.execute("SELECT * FROM edges"):
        src, dst, bits, count, wj, ij, icomplete, gj, oj, ocomplete = row
        e = graph.edge(graph.classes[ids[src]], graph.classes[ids[dst]])
        e.bits = bits
        e.count = count
        e.witnesses = {int(b): _witness(w, frames) for b, w in json.loads(wj).items()}
        e.instances = {(a, b) for a, b in json.loads(ij)}
        e.instances_complete = bool(icomplete)
        e.gate = None if gj is None else frozenset(json.loads(gj))
        e.occurrences = {(a, b) for a, b in json.loads(oj)}
        e.occurrences_complete = bool(ocomplete)
    for bt, be, at, ae in db.execute("SELECT * FROM hb_links"):
        run.hb.link((bt, be), (at, ae))
    for task, epoch in db.execute("SELECT * FROM hb_epochs"):
        run.hb.last_epoch[task] = max(epoch, run.hb.last_epoch.get(task, -1))
    for _, steps, event, task in db.execute("SELECT * FROM cycles ORDER BY ord"):
        run.cycles.append(
            ([(graph.edges[(ids[s], ids[d])], bit) for s, d, bit in json.loads(steps)], event, task)
        )
    for task, lock, holder, event in db.execute("SELECT * FROM inherited"):
        run.inherited.setdefault(task, {})[lock] = (holder, event)
    run.event_findings = [
        _finding(r[0]) for r in db.execute("SELECT json FROM event_findings ORDER BY ord")
    ]
    return run


def _witness(d: dict[str, Any], frames: dict[tuple[Any, ...], Frame]) -> Witness:
    return Witness(
        task=d["task"],
        holder_site=_stack(d["holder_site"], frames),
        acquirer_site=_stack(d["acquirer_site"], frames),
        event=d["event"],
        holder_mode=Mode(d["holder_mode"]),
        acquirer_mode=Mode(d["acquirer_mode"]),
        holder_instance=d["holder_instance"],
        acquirer_instance=d["acquirer_instance"],
    )


# -- checking what was read ---------------------------------------------------------
# A data file may be damaged or hand-made: every value read is checked against the
# type the engine declares for it (and the few invariants reports rely on), so that
# a bad file is one error here rather than a traceback in a renderer.

_DAMAGE = (
    ValueError,  # json.JSONDecodeError, UnicodeDecodeError, a bad enum value
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,  # JSON nested thousands deep
)


def _finding(text: Any) -> Finding:
    if not isinstance(text, str):
        raise TypeError(f"a finding is {type(text).__name__}, not JSON text")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("a finding is not a JSON object")
    if "\\ud" in text.lower():  # an escaped surrogate: a name that was not UTF-8
        data = _as_text(data)
    finding = Finding.from_json(data)
    _conform(finding, Finding, "finding")
    _check_finding(finding)
    return finding


def _as_text(value: Any) -> Any:
    """``value`` with every string made encodable: a lone surrogate (from a file name
    that was not UTF-8, read with Python's surrogate escapes) becomes U+FFFD."""
    if isinstance(value, str):
        return (
            value.encode("utf-8", "surrogateescape")
            .decode("utf-8", "replace")
            .encode("utf-8", "replace")
            .decode("utf-8")
        )
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, dict):
        return {_as_text(k): _as_text(v) for k, v in value.items()}
    return value


def _check_finding(f: Finding) -> None:
    """What every renderer may take for granted of a finding."""
    if f.kind not in KINDS:
        raise ValueError(f"unknown finding kind {f.kind!r}")
    if not f.classes:
        raise ValueError(f"a {f.kind} finding names no lock class")
    if f.instance_level not in ("", "instance", "class", "class-only", "unknown"):
        raise ValueError(f"unknown instance level {f.instance_level!r}")
    if f.instance_level == "instance" and not f.instance_cycle:
        raise ValueError("an instance-level cycle without its instances")
    if f.kind in ("circular-dependency", "wait-cycle") and not f.dependencies:
        raise ValueError(f"a {f.kind} finding without its dependencies")


def _check_run(run: Run) -> None:
    seen: set[int] = set()
    for cls in run.graph.classes:
        _conform(cls, LockClass, "lock class", seen)
    for edge in run.graph.edges.values():
        _conform(edge, Edge, "dependency", seen)
        if not 0 <= edge.bits <= _ALL_BITS or set(edge.witnesses) != {
            b for b in _BITS if edge.bits & b
        }:
            raise ValueError(
                f"dependency {edge.src.name} -> {edge.dst.name}: type bits {edge.bits} "
                f"and witnesses {sorted(edge.witnesses)} disagree"
            )
    for name, value, hint in (
        ("tasks", run.tasks, list[tuple[str, str]]),
        ("instances", run.instances, dict[int, str]),
        ("cycles", run.cycles, list[tuple[list[Step], int, int]]),
        ("inherited", run.inherited, dict[int, dict[int, tuple[int, int]]]),
        ("sources", run.sources, list[str]),
        ("happens-before links", run.hb.after, dict[tuple[int, int], list[tuple[int, int]]]),
        ("happens-before epochs", run.hb.last_epoch, dict[int, int]),
    ):
        _conform(value, hint, name, seen)
    # Each epoch of a task begins with a link (fork, join): more epochs than links is
    # damage, and would make the happens-before search walk them one by one.
    links = sum(len(v) for v in run.hb.after.values())
    epochs = [e for _, e in run.hb.after] + list(run.hb.last_epoch.values())
    epochs += [e for afters in run.hb.after.values() for _, e in afters]
    if any(not 0 <= e <= links for e in epochs):
        raise ValueError(f"a happens-before epoch is out of range (0 to {links})")
    for steps, _, _ in run.cycles:
        if not steps or any(not edge.bits & bit for edge, bit in steps):
            raise ValueError("an online cycle names a dependency type its edge lacks")


_BITS = [int(b) for b in DepType]  # ints: enum.Flag's & is slow
_ALL_BITS = sum(_BITS)

Checker = Callable[[Any, set[int]], bool]
"""Whether a value has a type; the set holds the ids of records already checked (the
frames and lock classes that many stacks and dependencies share are checked once)."""

_CHECKERS: dict[Any, Checker] = {}


def _conform(value: Any, hint: Any, what: str, seen: set[int] | None = None) -> None:
    if not _checker(hint)(value, set() if seen is None else seen):
        raise TypeError(f"a {what} has a value of the wrong type")


def _checker(hint: Any) -> Checker:
    """A function telling whether a value has the type ``hint`` (cached per type)."""
    checker = _CHECKERS.get(hint)
    if checker is None:
        checker = _CHECKERS[hint] = _make_checker(hint)
    return checker


def _make_checker(hint: Any) -> Checker:
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return lambda v, seen: True
    if hint is None or hint is type(None):
        return lambda v, seen: v is None
    if origin in (Union, types.UnionType):
        options = [_checker(a) for a in args]
        return lambda v, seen: any(c(v, seen) for c in options)
    if origin in (list, set, frozenset):
        item = _checker(args[0]) if args else _checker(Any)
        return lambda v, seen: isinstance(v, origin) and all(item(x, seen) for x in v)
    if origin is dict:
        key, val = _checker(args[0]), _checker(args[1])
        return lambda v, seen: (
            isinstance(v, dict) and all(key(k, seen) and val(x, seen) for k, x in v.items())
        )
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _checker(args[0])
            return lambda v, seen: isinstance(v, tuple) and all(item(x, seen) for x in v)
        if len(args) == 2 and all(a in (int, str) for a in args):  # pairs of ids: many
            first, second = args
            return lambda v, seen: (
                isinstance(v, tuple)
                and len(v) == 2
                and isinstance(v[0], first)
                and isinstance(v[1], second)
            )
        parts = [_checker(a) for a in args]
        return lambda v, seen: (
            isinstance(v, tuple)
            and len(v) == len(parts)
            and all(c(x, seen) for c, x in zip(parts, v, strict=True))
        )
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or hasattr(hint, "_fields")):
        return _record_checker(hint)
    if hint is float:
        return lambda v, seen: isinstance(v, (int, float))
    if isinstance(hint, type):
        return lambda v, seen: isinstance(v, hint)
    return lambda v, seen: True  # a type form this check does not know: not checked


def _record_checker(hint: type) -> Checker:
    """A dataclass or named tuple: each field has its declared type."""
    fields: list[tuple[str, Checker]] = []

    def check(v: Any, seen: set[int]) -> bool:
        if not isinstance(v, hint):
            return False
        if id(v) in seen:
            return True
        if not fields:  # resolved on first use: the fields' types may refer back here
            fields.extend((n, _checker(h)) for n, h in get_type_hints(hint).items())
        for name, field_checker in fields:
            if not field_checker(getattr(v, name), seen):
                return False
        seen.add(id(v))
        return True

    return check


def _too_big(run: Run, exc: OverflowError) -> str:
    for cls in run.graph.classes:
        if not -(1 << 63) <= cls.subclass < 1 << 63:
            return f"lock class {cls.name!r} has subclass {cls.subclass}, beyond 64 bits"
    return f"a number is beyond 64 bits ({exc})"
