"""``lockgraph kernel ...``: lockdep reports, ``/proc/lockdep*`` and lock tracepoints.

* ``explain FILE...``: every lockdep report in the files, cleaned, explained;
* ``dedupe DIR|FILE...``: reports grouped by their syzbot-style signature;
* ``graph FILE...``: the class graph of ``/proc/lockdep``, ``/proc/lockdep_chains``
  and lockdep reports, merged, with every cycle in it;
* ``path A B``: does class A depend on class B, and through which classes;
* ``analyze TRACE...``: lock tracepoints (ftrace, trace-cmd, perf script) through
  the engine: every cycle, recursion and irq-context inversion.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any, TextIO

from lockgraph import __version__
from lockgraph.cli._common import add_output_options, add_verdict_options
from lockgraph.engine import Engine, Run, analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.engine.graph import Edge
from lockgraph.errors import InputError, UsageError
from lockgraph.kernel.explain import explain
from lockgraph.kernel.model import FORMAT_NAME, REPORT_VERSION, Report
from lockgraph.kernel.proc import GraphFeeder, parse_proc
from lockgraph.kernel.signature import key_frame, signature
from lockgraph.kernel.splat import ANCHORS, parse_reports, scan
from lockgraph.kernel.tracepoints import TraceImporter
from lockgraph.report import Report as View
from lockgraph.report import open_output, write_report
from lockgraph.sources.files import open_text, read_errors
from lockgraph.store import DEFAULT_NAME, load_run, save

HELP = "lockdep reports, /proc/lockdep and lock tracepoints (explain, dedupe, graph, path, analyze)"
EPILOG = "Exit status: 0 nothing found, 1 findings (or reports), 2 usage or input error."


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "kernel",
        help=HELP,
        description="Read what the Linux kernel's lockdep leaves behind: reports in dmesg, "
        "syzbot mails and mailing-list quotes; /proc/lockdep and /proc/lockdep_chains; lock "
        "tracepoints recorded with ftrace, trace-cmd or perf. See docs/kernel.md.",
        epilog=EPILOG,
    )
    ksub = p.add_subparsers(dest="kernel_command", metavar="COMMAND", parser_class=type(p))
    ksub.required = True
    _explain_parser(ksub)
    _dedupe_parser(ksub)
    _graph_parser(ksub)
    _path_parser(ksub)
    _analyze_parser(ksub)


# -- explain ------------------------------------------------------------------------


def _explain_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "explain",
        help="explain every lockdep report in the files",
        description="Find every lockdep report in the files (dmesg, console logs, syzbot "
        "mails, quoted or quoted-printable mail text), repair what can be repaired, and "
        "explain each: a clean copy, the whole cycle as N tasks, each dependency in words, "
        "and the class-level caveat. '--format json' prints the parsed structure.",
        epilog=EPILOG,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="text files ('-' reads stdin)")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="write to FILE")
    p.add_argument("--brief", action="store_true", help="leave out the clean copy of each report")
    p.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    reports = [r for path in args.files for r in _reports(path)]
    if args.format == "json":
        with open_output(args.output) as out:
            _dump(reports_json(reports), out)
    else:
        with open_output(args.output) as out:
            out.write(explain(reports, not args.brief))
    return 1 if reports else 0


def reports_json(reports: list[Report]) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": REPORT_VERSION,
        "lockgraph": __version__,
        "reports": [r.to_json() for r in reports],
    }


WHOLE = 1 << 23
"""Texts up to this size are parsed whole; larger logs go through ``scan``'s pre-filter
(which misses only report fragments with none of lockdep's phrases, such as a
scenario table quoted alone)."""


def _reports(path: str) -> list[Report]:
    try:
        with open_text(path) as stream:
            head = stream.read(WHOLE)
            if len(head) < WHOLE:
                return parse_reports(head, path)
            return list(scan(_Prepended(head, stream), path))
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(path, exc) from None


class _Prepended:
    """A stream whose first read returns what was already read from it."""

    def __init__(self, head: str, stream: TextIO) -> None:
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> str:
        if self.head:
            head, self.head = self.head, ""
            return head
        return self.stream.read(size)


# -- dedupe -------------------------------------------------------------------------


def _dedupe_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "dedupe",
        help="group lockdep reports by signature",
        description="Read every file (directories recursively), find the lockdep reports "
        "and group them by their syzbot-style signature ('possible deadlock in FUNCTION', "
        "'inconsistent lock state in FUNCTION', ...). Prints a table: count, title, first "
        "file.",
        epilog=EPILOG,
    )
    p.add_argument("paths", nargs="+", metavar="DIR|FILE")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="write to FILE")
    p.set_defaults(handler=run_dedupe)


def run_dedupe(args: argparse.Namespace) -> int:
    groups: dict[str, list[Report]] = {}
    files = 0
    for path in _walk(args.paths):
        files += 1
        for r in _reports(path):
            groups.setdefault(signature(r), []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    if args.format == "json":
        doc = {
            "format": "lockgraph-kernel-dedupe",
            "version": 1,
            "files": files,
            "groups": [
                {
                    "signature": sig,
                    "count": len(rs),
                    "kind": rs[0].kind,
                    "reports": [
                        {
                            "source": r.source,
                            "lines": [r.first_line, r.last_line],
                            "complete": r.complete,
                        }
                        for r in rs
                    ],
                }
                for sig, rs in ordered
            ],
        }
        with open_output(args.output) as out:
            _dump(doc, out)
    else:
        with open_output(args.output) as out:
            out.write(_dedupe_table(ordered, files))
    return 1 if groups else 0


def _dedupe_table(ordered: list[tuple[str, list[Report]]], files: int) -> str:
    if not ordered:
        return f"lockgraph: no lockdep report in {files} file{'s' if files != 1 else ''}\n"
    width = min(70, max(len("title"), *(len(sig) for sig, _ in ordered)))
    lines = [f"{'count':>5}  {'title':<{width}}  first file"]
    for sig, rs in ordered:
        first = rs[0]
        lines.append(f"{len(rs):>5}  {sig:<{width}}  {first.source}:{first.first_line}")
    total = sum(len(rs) for _, rs in ordered)
    lines.append(
        f"lockgraph: {total} report{'s' if total != 1 else ''}, {len(ordered)} distinct, "
        f"in {files} file{'s' if files != 1 else ''}"
    )
    return "\n".join(lines) + "\n"


def _walk(paths: list[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        elif path == "-" or os.path.exists(path):
            yield path
        else:
            raise InputError(path, 0, "cannot open: No such file or directory")


# -- graph and path ----------------------------------------------------------------


def _graph_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "graph",
        help="import /proc/lockdep, /proc/lockdep_chains and reports; find every cycle",
        description="Import lockdep's class graph: /proc/lockdep (direct dependencies), "
        "/proc/lockdep_chains (held-lock chains) and lockdep reports (their dependency "
        "chains and held locks), told apart by content. All files merge into one graph, "
        "so reports from several boots can close cycles lockdep never saw whole.",
        epilog=EPILOG,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="/proc/lockdep copies and reports")
    p.add_argument(
        "--chains",
        action="append",
        default=[],
        metavar="FILE",
        help="a /proc/lockdep_chains copy (repeatable)",
    )
    _store_options(p)
    p.set_defaults(handler=run_graph)


def _store_options(p: argparse.ArgumentParser) -> None:
    add_output_options(p)
    add_verdict_options(p)
    p.add_argument(
        "--data-file",
        metavar="FILE",
        help="also store the graph and the findings in this SQLite data file "
        "(read it back with 'lockgraph report' or 'lockgraph kernel path')",
    )


def run_graph(args: argparse.Namespace) -> int:
    run = import_graph(list(args.files), list(args.chains))
    return _finish(args, run)


def import_graph(files: list[str], chains: list[str]) -> Run:
    engine = Engine()
    feeder = GraphFeeder(engine)
    for path in files:
        text = _read(path)
        parsed = parse_proc(text)
        if parsed.kind == "lockdep":
            n = feeder.feed_lockdep(parsed, _label(path))
            _note(f"{path}: {len(parsed.classes)} classes, {n} dependencies")
            continue
        if parsed.kind == "lockdep_chains":
            n = feeder.feed_chains(parsed, _label(path))
            _note(f"{path}: {n} chains")
            continue
        reports = parse_reports(text, path) if _has_anchor(text) else []
        if not reports:
            raise InputError(
                path,
                0,
                "neither /proc/lockdep, /proc/lockdep_chains nor a lockdep report "
                f"(it looks like {parsed.kind})"
                if parsed.kind != "unknown"
                else "neither /proc/lockdep, /proc/lockdep_chains nor a lockdep report",
            )
        n = sum(feeder.feed_report(r, f"{_label(path)}:{r.first_line}") for r in reports)
        _note(f"{path}: {len(reports)} reports, {n} dependencies")
    for path in chains:
        parsed = parse_proc(_read(path))
        if parsed.kind != "lockdep_chains":
            raise InputError(path, 0, "not a /proc/lockdep_chains copy (no 'irq_context:' lines)")
        _note(f"{path}: {feeder.feed_chains(parsed, _label(path))} chains")
    run = engine.finish(end_of_trace=False, sources=[*files, *chains])
    feeder.class_only(run)
    return run


def _path_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "path",
        help="does class A depend on class B, and through which classes?",
        description="Search the class graph for the shortest chain A -> ... -> B (A held "
        "while B is taken, directly or through other classes). The graph comes from the "
        "FILEs (as 'kernel graph' reads them) or, without FILEs, from a data file.",
        epilog="Exit status: 0 A depends on B, 1 it does not, 2 usage or input error.",
    )
    p.add_argument("source", metavar="A", help="lock class name as lockdep prints it")
    p.add_argument("target", metavar="B", help="lock class name as lockdep prints it")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--chains", action="append", default=[], metavar="FILE")
    p.add_argument(
        "--data-file",
        metavar="FILE",
        help=f"the data file to search when no FILE is given (default: {DEFAULT_NAME})",
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_path)


def run_path(args: argparse.Namespace) -> int:
    if args.files or args.chains:
        run = import_graph(list(args.files), list(args.chains))
    else:
        run = load_run(args.data_file or DEFAULT_NAME)
    graph = run.graph
    src, dst = _class(run, args.source), _class(run, args.target)
    path = shortest_path(run, src, dst)
    back = shortest_path(run, dst, src) if path is None else None
    if args.format == "json":
        doc = {
            "format": "lockgraph-kernel-path",
            "version": 1,
            "source": args.source,
            "target": args.target,
            "depends": path is not None,
            "path": [_edge_json(run, e) for e in path or []],
            "reverse": [_edge_json(run, e) for e in back or []],
        }
        _dump(doc, sys.stdout)
    elif path is not None:
        names = [graph.classes[src].key] + [e.dst.key for e in path]
        print(f"{args.source} depends on {args.target}: " + " -> ".join(names))
        for e in path:
            print(f"  {_edge_text(run, e)}")
    else:
        print(f"{args.source} does not depend on {args.target}")
        if back:
            names = [graph.classes[dst].key] + [e.dst.key for e in back]
            print(f"but {args.target} depends on {args.source}: " + " -> ".join(names))
    return 0 if path is not None else 1


def shortest_path(run: Run, src: int, dst: int) -> list[Edge] | None:
    if src == dst:
        return []
    parent: dict[int, Edge | None] = {src: None}
    queue = deque([src])
    while queue:
        node = queue.popleft()
        for nxt, edge in sorted(run.graph.succ[node].items()):
            if nxt in parent or not edge.bits:
                continue
            parent[nxt] = edge
            if nxt == dst:
                path = []
                link = parent[nxt]
                while link is not None:
                    path.append(link)
                    link = parent[link.src.id]
                return path[::-1]
            queue.append(nxt)
    return None


def _class(run: Run, name: str) -> int:
    cls = run.graph.find_class(name)
    if cls is not None:
        return cls.id
    known = [c.key for c in run.graph.classes]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"no lock class {name!r} in the graph{hint}")


def _edge_text(run: Run, e: Edge) -> str:
    w = e.witness()
    frame = key_frame(w.acquirer_site) or (w.acquirer_site[0] if w.acquirer_site else None)
    site = frame.render() if frame else "no stack recorded"
    return f"{e.src.key} -> {e.dst.key}: {run.task_name(w.task)}, at {site}"


def _edge_json(run: Run, e: Edge) -> dict[str, Any]:
    w = e.witness()
    return {
        "source": e.src.key,
        "target": e.dst.key,
        "task": run.task_name(w.task),
        "site": [f.render() for f in w.acquirer_site or ()],
    }


# -- analyze ------------------------------------------------------------------------


def _analyze_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "analyze",
        help="analyse lock tracepoints (ftrace, trace-cmd report, perf script)",
        description="Read lock_acquire/lock_release (and lock_contended, lock_acquired, "
        "contention_begin/end) events from /sys/kernel/tracing/trace, 'trace-cmd report' "
        "or 'perf script' text, build per-pid held-lock stacks, and report every cycle, "
        "recursion and irq-context inversion in the trace. Several files (several "
        "machines) merge into one graph: their tasks and lock instances stay apart, "
        "their lock classes are shared.",
        epilog=EPILOG,
    )
    p.add_argument("traces", nargs="+", metavar="TRACE", help="trace text files ('-': stdin)")
    _store_options(p)
    p.set_defaults(handler=run_analyze)


def run_analyze(args: argparse.Namespace) -> int:
    engine = Engine()
    importer = TraceImporter(engine)
    several = len(args.traces) > 1
    for path in args.traces:
        before = importer.stats.event_lines
        try:
            with open_text(path) as stream:
                importer.read(stream, path, f"{_label(path)}:" if several else "")
        except (OSError, EOFError, ValueError) as exc:
            raise read_errors(path, exc) from None
        if importer.stats.event_lines == before:
            raise InputError(path, 0, _no_events_hint(path))
    stats = importer.stats
    run = engine.finish(end_of_trace=False, sources=list(args.traces))
    if stats.events == 0:
        _note("no lock_acquire or lock_release events: nothing to analyse")
    if stats.unmatched_releases:
        _note(f"{stats.unmatched_releases} releases of locks taken before the trace began")
    if stats.acquired_before_contended:
        _note(
            f"{stats.acquired_before_contended} lock_acquired events came before their "
            "lock_contended (kernels 5.12-5.13 swapped the two tracepoints)"
        )
    for c in sorted(stats.contention.values(), key=lambda c: -c.events)[:10]:
        where = f", first at {c.site[0].render()}" if c.site else ""
        flags = f" [{'|'.join(sorted(c.flags))}]" if c.flags else ""
        _note(f"contention: {c.lock}{flags}: {c.events} waits by {len(c.tasks)} tasks{where}")
    return _finish(args, run)


def _no_events_hint(path: str) -> str:
    try:
        with open_text(path) as stream:
            head = stream.read(20000)
    except (OSError, ValueError, EOFError):
        head = ""
    if "contended" in head and ("avg wait" in head or "total wait" in head):
        return (
            "a 'perf lock report' or 'perf lock contention' summary has no events: record "
            "with 'perf lock record' and convert with 'perf script'"
        )
    return "no trace events found (expected ftrace, 'trace-cmd report' or 'perf script' text)"


# -- shared -------------------------------------------------------------------------


def _finish(args: argparse.Namespace, run: Run) -> int:
    findings = analyze(run)
    apply_verdicts(findings, run)
    if args.data_file:
        save(args.data_file, run, findings)
    view = View(
        findings,
        args.show_pruned,
        run,
        list(run.sources),
        run.events,
        confirmed_only=args.confirmed_only,
        fail_on=args.fail_on,
    )
    write_report(view, args.format, args.output)
    return view.exit_status()


def _read(path: str) -> str:
    try:
        with open_text(path) as stream:
            return stream.read()
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(path, exc) from None


def _has_anchor(text: str) -> bool:
    return any(a in text for a in ANCHORS)


def _label(path: str) -> str:
    if path == "-":
        return "stdin"
    name = os.path.basename(path)
    for suffix in (".gz", ".txt", ".log", ".dat"):
        name = name.removesuffix(suffix)
    return name or path


def _note(text: str) -> None:
    print(f"lockgraph: {text}", file=sys.stderr)


def _dump(doc: dict[str, Any], out: TextIO) -> None:
    json.dump(doc, out, indent=2)
    out.write("\n")
