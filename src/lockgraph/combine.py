"""Combining data files: parallel processes (``lockgraph run --parallel``,
subprocesses, pytest-xdist workers) each write ``DATA_FILE.<host>.<pid>.<random>``;
combining merges them with ``store.merge_runs`` (no dependency lost), re-analyses
the merged run, and writes DATA_FILE.

Nothing is lost or destroyed:

- a file given twice (the same file under two names, or a byte-identical copy) is
  combined once, with a warning: its dependencies are not counted twice;
- the inputs are removed only after the result is safely written, and only those
  that lockgraph wrote as parallel data files (their ``meta`` says so): a user's
  ``.lockgraph.backup.2024.lg`` given as an input is read, never deleted;
- without inputs, only names of the parallel form are taken
  (``DATA_FILE.<host>.<pid>.<six digits>``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
from collections.abc import Callable

from lockgraph import store
from lockgraph.engine import Finding, Run, analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.errors import DataError

PARALLEL_META = "parallel"
"""The ``meta`` key lockgraph sets (to ``"1"``) in each parallel data file it writes."""

_PARALLEL_SUFFIX = re.compile(r"(?P<label>.+\.\d+)\.\d{6}")
"""``<host>.<pid>.<random>`` after ``DATA_FILE.``: the host may contain dots."""

Warn = Callable[[str], None]


def parallel_files(data_file: str) -> list[str]:
    """The parallel data files beside ``data_file`` (``DATA_FILE.<host>.<pid>.<rand>``)."""
    found = []
    for path in sorted(glob.glob(glob.escape(data_file) + ".*")):
        suffix = path[len(data_file) + 1 :]
        if _PARALLEL_SUFFIX.fullmatch(suffix) and os.path.isfile(path):
            found.append(path)
    return found


def label_of(path: str, data_file: str) -> str:
    """``host.pid`` from a parallel file's name (the run's prefix in the merge)."""
    base = os.path.basename(data_file)
    name = os.path.basename(path)
    if name.startswith(base + "."):
        m = _PARALLEL_SUFFIX.fullmatch(name[len(base) + 1 :])
        if m:
            return m.group("label")
    return name


def unique_inputs(
    paths: list[str], also: list[str] | None = None, warn: Warn | None = None
) -> list[str]:
    """``paths`` without repeats: a file named twice (or under two names), or a
    byte-identical copy of one already taken or of one of ``also`` (what is combined
    besides), is dropped with a warning."""
    seen: dict[object, str] = {}
    kept: list[str] = []
    for n, path in enumerate([*(also or []), *paths]):
        given = n >= len(also or [])
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            if given:
                kept.append(path)  # the loader reports it, naming it
            continue
        keys: list[object] = [(st.st_dev, st.st_ino)]
        first = seen.get(keys[0])
        digest = _digest(path) if first is None else ""
        if digest:
            keys.append(digest)
            first = seen.get(digest)
        if first is not None:
            if given and warn is not None:
                same = first == path or os.path.samefile(first, path)
                how = "is" if same else "has the same content as"
                warn(f"{path!r} {how} {first!r}: combined once")
            continue
        for key in keys:
            seen.setdefault(key, path)
        if given:
            kept.append(path)
    return kept


def _digest(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""  # unreadable: the loader says so
    return h.hexdigest()


def merge(
    data_file: str,
    paths: list[str],
    *,
    append: bool = False,
    suppress: list[str] | None = None,
    extra_runs: list[tuple[str, Run]] | None = None,
) -> tuple[Run, list[Finding]]:
    """The merged run of ``paths`` (and ``extra_runs``; and DATA_FILE with ``append``)
    and its findings. Writes nothing."""
    runs: list[tuple[str, Run]] = list(extra_runs or [])
    if append and os.path.exists(data_file):
        runs.append(("", store.load_run(data_file)))
    for path in paths:
        if os.path.isdir(path):
            raise DataError(f"Couldn't combine {path!r}: is a directory")
        runs.append((label_of(path, data_file), store.load_run(path)))
    if not runs:
        raise DataError(f"No data to combine: no parallel data files {data_file}.*")
    merged = store.merge_runs(runs)
    findings = analyze(merged)
    apply_verdicts(findings, merged)
    if suppress:
        from lockgraph.runtime._recorder import apply_suppressions

        apply_suppressions(findings, suppress)
    return merged, findings


def combine(
    data_file: str,
    inputs: list[str] | None = None,
    *,
    append: bool = False,
    keep: bool = False,
    suppress: list[str] | None = None,
    extra_runs: list[tuple[str, Run]] | None = None,
    warn: Warn | None = None,
) -> tuple[Run, list[Finding], list[str]]:
    """Merge ``inputs`` (default: the parallel files) into ``data_file``.

    Returns the merged run, its findings and the files combined. ``warn`` is told
    about inputs given twice and inputs kept because lockgraph did not write them.
    """
    paths = list(inputs) if inputs is not None else parallel_files(data_file)
    also = [data_file] if append and os.path.exists(data_file) else []
    paths = unique_inputs(paths, also, warn)
    merged, findings = merge(
        data_file, paths, append=append, suppress=suppress, extra_runs=extra_runs
    )
    combined = len(paths) + len(also) + len(extra_runs or [])
    store.save(data_file, merged, findings, {"combined": str(combined)})
    if not keep:
        remove_parallel_files(paths, data_file, warn)
    return merged, findings, paths


def remove_parallel_files(paths: list[str], data_file: str, warn: Warn | None = None) -> None:
    """Remove the combined inputs that lockgraph wrote as parallel data files; keep
    (and mention) any other."""
    for path in paths:
        if os.path.abspath(path) == os.path.abspath(data_file):
            continue
        if not is_parallel_file(path):
            if warn is not None:
                warn(f"kept {path!r}: not a parallel data file written by lockgraph")
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)


def is_parallel_file(path: str) -> bool:
    """Whether lockgraph wrote ``path`` as a parallel data file (its meta says so)."""
    try:
        return store.read_meta(path).get(PARALLEL_META) == "1"
    except DataError:
        return False
