"""The corpus of realistic programs (``tests/corpus/python``), run under ``lockgraph
run`` once per core: each must produce exactly the findings its header expects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockgraph.store import load_findings

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "python"
PROGRAMS = sorted(p.name for p in CORPUS.glob("*.py"))


def header(path: Path, key: str) -> list[str]:
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].split()
    return []


@pytest.mark.parametrize("program", PROGRAMS)
def test_corpus_program(program: str, core: str, tmp_path: Path) -> None:
    path = CORPUS / program
    expected = sorted(k for k in header(path, "expect") if k != "none")
    policy = header(path, "policy") or ["report"]
    data = tmp_path / "data.lockgraph"
    env = dict(os.environ, LOCKGRAPH_CORE=core)
    env.pop("LOCKGRAPH_SUBPROCESS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgraph",
            "run",
            "--data-file",
            str(data),
            "--policy",
            policy[0],
            *header(path, "options"),
            str(path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    findings = [f for f in load_findings(str(data)) if f.reported]
    # the program succeeds: 66 when it has findings (lockgraph run's exit status)
    assert result.returncode == (66 if findings else 0), result.stderr
    assert sorted({f.kind for f in findings}) == expected, result.stderr
    if expected:
        assert "WARNING" in result.stderr  # the report at exit
        for f in findings:  # every report names classes with their creation sites
            assert all(c.site and c.site.frames for c in f.classes if c.kind == "lock")
            kinds = {c.name: c.kind for c in f.classes}
            for dep in f.dependencies:
                assert dep.witness.acquirer_site.frames
                if kinds[dep.source] == "lock":  # a join's signal has no site
                    assert dep.witness.holder_site.frames
    else:
        assert "WARNING" not in result.stderr
