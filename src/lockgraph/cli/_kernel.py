"""``lockgraph kernel ...``: lockdep reports, ``/proc/lockdep*`` and lock tracepoints.

* ``explain FILE...``: every lockdep report in the files, cleaned, explained;
* ``dedupe DIR|FILE...``: reports grouped by syzbot's title;
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from lockgraph import __version__, distributed
from lockgraph.cli._common import add_output_options, add_verdict_options, will_exit
from lockgraph.engine import Engine, Run, analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.engine.graph import Edge
from lockgraph.errors import InputError, LockgraphError, UsageError
from lockgraph.kernel.classgraph import (
    CLASS_ONLY,
    CLASS_ONLY_TEXT,
    class_only_path,
    class_pairs,
    import_graph,
    mark_class_only,
    shortest_path,
)
from lockgraph.kernel.explain import explain
from lockgraph.kernel.limits import MAX_LINE
from lockgraph.kernel.model import FORMAT_NAME, REPORT_VERSION, Splat
from lockgraph.kernel.proc import GraphFeeder
from lockgraph.kernel.reading import CutReader, cut_line_iter, open_input, read_all
from lockgraph.kernel.signature import key_frame, signature
from lockgraph.kernel.splat import ScanStats, parse_reports, scan
from lockgraph.kernel.to_scenario import model_from_text
from lockgraph.kernel.tracepoints import TraceImporter
from lockgraph.report import Report as View
from lockgraph.report import open_output, write_report
from lockgraph.report.words import count
from lockgraph.sources.files import read_errors
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
    _model_parser(ksub)


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
    _dask_options(p)
    p.set_defaults(handler=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    if args.dask and not _dask_ready():
        return 2
    reports = [r for found in _each_file(list(args.files), args) for r in found.reports]
    if args.format == "json":
        with open_output(args.output) as out:
            _dump(reports_json(reports), out)
    else:
        with open_output(args.output) as out:
            out.write(explain(reports, not args.brief))
    return 1 if reports else 0


def reports_json(reports: list[Splat]) -> dict[str, Any]:
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


@dataclass
class FileReports:
    """What one file holds for ``explain`` and ``dedupe``: plain data, so that it can
    come back from a Dask worker."""

    path: str
    reports: list[Splat] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    """The title of each report (``signature``)."""
    cut: int = 0
    """Lines cut to ``MAX_LINE`` characters."""
    error: tuple[str, int, str] | None = None
    """(path, line, message) of an input error: raised where the results are read."""
    failure: str = ""
    """Any other error's message."""


def file_reports(path: str) -> FileReports:
    """Every lockdep report of one file and its title (the work of one Dask task)."""
    try:
        reports, cut = _parse_file(path)
    except InputError as exc:
        return FileReports(path, error=(exc.path, exc.line, exc.detail))
    except LockgraphError as exc:
        return FileReports(path, failure=str(exc))
    return FileReports(path, reports, [signature(r) for r in reports], cut)


def _each_file(paths: Iterable[str], args: argparse.Namespace) -> Iterator[FileReports]:
    """Each file's reports, in the order of ``paths`` (with ``--dask``: read on Dask)."""
    if not args.dask:
        yield from _checked(file_reports(path) for path in paths)
        return
    paths = list(paths)
    if "-" in paths:
        raise UsageError("--dask reads files, not standard input")
    with distributed.session(args.scheduler, args.workers) as client:
        yield from _checked(reports_on_dask(paths, client))


def reports_on_dask(paths: list[str], client: Any) -> Iterator[FileReports]:
    """``file_reports`` of each file as one task of ``client``, in the order of ``paths``."""
    futures = [client.submit(file_reports, path, pure=False) for path in paths]
    for future in futures:
        yield future.result()


def _checked(results: Iterable[FileReports]) -> Iterator[FileReports]:
    """The results, their notes on stderr; the first error in file order is raised."""
    for found in results:
        if found.error is not None:
            raise InputError(*found.error)
        if found.failure:
            raise LockgraphError(found.failure, cut=False)
        _note_cut(found.path, found.cut)
        yield found


def _dask_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("distributed (pip install 'lockgraph[dask]')")
    group.add_argument(
        "--dask", action="store_true", help="read the files on Dask, one task per file"
    )
    group.add_argument(
        "--scheduler", metavar="ADDRESS", help="the Dask scheduler (default: a local cluster)"
    )
    group.add_argument(
        "--workers", type=int, metavar="N", help="local cluster processes (default: one per core)"
    )


def _dask_ready() -> bool:
    """Whether Dask can be imported (if not: the install hint on stderr)."""
    if distributed.dask_available():
        return True
    print(distributed.INSTALL_HINT, file=sys.stderr)
    return False


def _parse_file(path: str) -> tuple[list[Splat], int]:
    """The reports of one file and how many of its lines were cut."""
    try:
        with open_input(path) as stream:
            reader = CutReader(stream)
            head = reader.read(WHOLE)
            stats = ScanStats()
            if reader.eof:
                reports = parse_reports(head, path)
            else:
                reports = list(scan(_Prepended(head, reader), path, stats))
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(path, exc) from None
    return reports, reader.cut + stats.cut


def _note_cut(path: str, cut: int) -> None:
    if cut:
        _note(f"{path}: {count(cut, 'line')} longer than {MAX_LINE} characters cut to that length")


class _Prepended:
    """A stream whose first read returns what was already read from it."""

    def __init__(self, head: str, stream: CutReader) -> None:
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
        "and group them by the title syzbot gives them ('possible deadlock in FUNCTION', "
        "'inconsistent lock state in FUNCTION', ...). Prints a table: count, title, first "
        "file.",
        epilog=EPILOG,
    )
    p.add_argument("paths", nargs="+", metavar="DIR|FILE")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="write to FILE")
    _dask_options(p)
    p.set_defaults(handler=run_dedupe)


def run_dedupe(args: argparse.Namespace) -> int:
    if args.dask and not _dask_ready():
        return 2
    groups: dict[str, list[Splat]] = {}
    files = 0
    for found in _each_file(_walk(args.paths), args):
        files += 1
        for sig, r in zip(found.signatures, found.reports, strict=True):
            groups.setdefault(sig, []).append(r)
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


def _dedupe_table(ordered: list[tuple[str, list[Splat]]], files: int) -> str:
    if not ordered:
        return f"lockgraph: no lockdep report in {count(files, 'file')}\n"
    width = min(70, max(len("title"), *(len(sig) for sig, _ in ordered)))
    lines = [f"{'count':>5}  {'title':<{width}}  first file"]
    for sig, rs in ordered:
        first = rs[0]
        lines.append(f"{len(rs):>5}  {sig:<{width}}  {first.source}:{first.first_line}")
    total = sum(len(rs) for _, rs in ordered)
    lines.append(
        f"lockgraph: {count(total, 'report')}, {len(ordered)} distinct, in {count(files, 'file')}"
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
    run, feeder = _import(list(args.files), list(args.chains))
    return _finish(args, run, class_pairs(run, feeder))


def _import(files: list[str], chains: list[str]) -> tuple[Run, GraphFeeder]:
    return import_graph(files, chains, _read, _note, _label)


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
        run, _ = _import(list(args.files), list(args.chains))
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
            "precision": _path_precision(path or back or []),
        }
        _dump(doc, sys.stdout)
    elif path is not None:
        names = [graph.classes[src].key] + [e.dst.key for e in path]
        print(f"{args.source} depends on {args.target}: " + " -> ".join(names))
        for e in path:
            print(f"  {_edge_text(run, e)}")
        if class_only_path(path):
            print(CLASS_ONLY_TEXT)
    else:
        print(f"{args.source} does not depend on {args.target}")
        if back:
            names = [graph.classes[dst].key] + [e.dst.key for e in back]
            print(f"but {args.target} depends on {args.source}: " + " -> ".join(names))
            if class_only_path(back):
                print(CLASS_ONLY_TEXT)
    return 0 if path is not None else 1


def _path_precision(path: list[Edge]) -> str:
    """``class-only`` for a path from class-level data, ``instance`` otherwise."""
    if not path:
        return ""
    return CLASS_ONLY if class_only_path(path) else "instance"


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
    site = f", at {frame.render()}" if frame else " (no stack recorded)"
    return f"{e.src.key} -> {e.dst.key}: {run.task_name(w.task)}{site}"


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
            with open_input(path) as stream:
                reader = CutReader(stream)
                importer.read(cut_line_iter(reader), path, f"{_label(path)}:" if several else "")
        except (OSError, EOFError, ValueError) as exc:
            raise read_errors(path, exc) from None
        _note_cut(path, reader.cut)
        if importer.stats.event_lines == before:
            raise InputError(path, 0, _no_events_hint(path))
    stats = importer.stats
    run = engine.finish(end_of_trace=False, sources=list(args.traces))
    if stats.events == 0:
        _note("no lock_acquire or lock_release events: nothing to analyse")
    if stats.unmatched_releases:
        _note(f"{count(stats.unmatched_releases, 'release')} of locks taken before the trace began")
    if stats.acquired_before_contended:
        _note(
            f"{count(stats.acquired_before_contended, 'lock_acquired event')} came before their "
            "lock_contended (kernels 5.12-5.13 swapped the two tracepoints)"
        )
    for c in sorted(stats.contention.values(), key=lambda c: -c.events)[:10]:
        where = f", first at {c.site[0].render()}" if c.site else ""
        flags = f" [{'|'.join(sorted(c.flags))}]" if c.flags else ""
        waits = f"{count(c.events, 'wait')} by {count(len(c.tasks), 'task')}"
        _note(f"contention: {c.lock}{flags}: {waits}{where}")
    return _finish(args, run)


def _no_events_hint(path: str) -> str:
    if path == "-":
        return "no trace events found (expected ftrace, 'trace-cmd report' or 'perf script' text)"
    try:
        with open_input(path) as stream:
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


def _finish(
    args: argparse.Namespace, run: Run, class_only: set[tuple[str, str]] | None = None
) -> int:
    findings = analyze(run)
    if class_only:
        mark_class_only(findings, class_only)
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
    status = will_exit(args, view.exit_status())
    write_report(view, args.format, args.output)
    return status


def _read(path: str) -> str:
    try:
        with open_input(path) as stream:
            text, cut = read_all(stream)
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(path, exc) from None
    _note_cut(path, cut)
    return text


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


# -- model --------------------------------------------------------------------------


def _model_parser(ksub: Any) -> None:
    p = ksub.add_parser(
        "model",
        help="write a scenario model from a circular lockdep report",
        description="Write a scenario file (docs/scenarios.md) from a 'possible circular "
        "locking dependency' report: one task per dependency of the cycle, with its lock "
        "steps, kinds and modes from what the report prints, and a comment at each point "
        "the report cannot settle. Then 'lockgraph scenario explore FILE' answers whether "
        "the cycle, as lockdep built it, can deadlock. See docs/kernel.md.",
        epilog="Exit status: 0 a model written, 2 usage or input error (no circular report).",
    )
    p.add_argument("file", metavar="REPORT", help="a text file with the report ('-' reads stdin)")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="write to FILE")
    p.add_argument(
        "--report",
        type=int,
        default=1,
        metavar="N",
        help="model the N-th circular report of the file (default: the first)",
    )
    p.set_defaults(handler=run_model)


def run_model(args: argparse.Namespace) -> int:
    try:
        with open_input(args.file) as stream:
            text, _ = read_all(stream)
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(args.file, exc) from None
    model = model_from_text(text, args.file, args.report - 1)
    with open_output(args.output) as out:
        out.write(model)
    return 0
