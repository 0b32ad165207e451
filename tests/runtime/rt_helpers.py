"""Helpers for the runtime's tests: run programs in subprocesses, read their findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def run_python(
    code: str,
    core: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    lockgraph_run: bool = False,
    prog_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a Python program in a subprocess with the chosen core (and a timeout)."""
    directory = cwd or Path(os.environ.get("TMPDIR", "/tmp"))
    script = directory / "prog.py"
    script.write_text(textwrap.dedent(code))
    full_env = dict(os.environ)
    full_env.pop("LOCKGRAPH_SUBPROCESS", None)
    full_env["LOCKGRAPH_CORE"] = core
    full_env["PYTHONFAULTHANDLER"] = "1"
    full_env.update(env or {})
    cmd = [sys.executable]
    if lockgraph_run:
        cmd += ["-m", "lockgraph", "run"]
    return subprocess.run(
        [*cmd, *args, str(script), *prog_args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


FINDINGS_JSON = """
import json as _json, lockgraph as _lg
def _dump(include_pruned=False):
    print("FINDINGS=" + _json.dumps([
        {"kind": f.kind, "pruned": f.pruned, "suppressed": f.suppressed,
         "confirmed": f.confirmed, "unconfirmed_reason": f.unconfirmed_reason,
         "classes": [c.name for c in f.classes],
         "instance_level": f.instance_level, "same": f.same_instance, "task": f.task,
         "notes": f.notes}
        for f in _lg.findings(include_pruned)]))
"""


def findings_of(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    for line in result.stdout.splitlines():
        if line.startswith("FINDINGS="):
            data: list[dict[str, object]] = json.loads(line[len("FINDINGS=") :])
            return data
    raise AssertionError(f"no findings printed:\n{result.stdout}\n{result.stderr}")
