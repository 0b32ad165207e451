"""Combining data files: parallel processes (``lockgraph run --parallel``,
subprocesses, pytest-xdist workers) each write ``DATA_FILE.<host>.<pid>.<random>``;
combining merges them with ``store.merge_runs`` (no dependency lost), re-analyses
the merged run, and writes DATA_FILE. The inputs are removed only after the result
is safely written.
"""

from __future__ import annotations

import contextlib
import glob
import os

from lockgraph import store
from lockgraph.engine import Finding, Run, analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.errors import DataError


def parallel_files(data_file: str) -> list[str]:
    """The parallel data files beside ``data_file`` (``DATA_FILE.<host>.<pid>.<rand>``)."""
    found = []
    for path in sorted(glob.glob(glob.escape(data_file) + ".*")):
        suffix = path[len(data_file) + 1 :]
        if suffix.count(".") >= 2 and not path.endswith(".tmp") and os.path.isfile(path):
            found.append(path)
    return found


def label_of(path: str, data_file: str) -> str:
    """``host.pid`` from a parallel file's name (the run's prefix in the merge)."""
    suffix = os.path.basename(path)[len(os.path.basename(data_file)) + 1 :]
    host_pid = suffix.rsplit(".", 1)[0]
    return host_pid or os.path.basename(path)


def combine(
    data_file: str,
    inputs: list[str] | None = None,
    *,
    append: bool = False,
    keep: bool = False,
    suppress: list[str] | None = None,
    extra_runs: list[tuple[str, Run]] | None = None,
) -> tuple[Run, list[Finding], list[str]]:
    """Merge ``inputs`` (default: the parallel files) into ``data_file``.

    Returns the merged run, its findings and the files combined.
    """
    paths = list(inputs) if inputs is not None else parallel_files(data_file)
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
    store.save(data_file, merged, findings, {"combined": str(len(runs))})
    if not keep:
        for path in paths:
            if os.path.abspath(path) != os.path.abspath(data_file):
                with contextlib.suppress(OSError):
                    os.unlink(path)
    return merged, findings, paths
