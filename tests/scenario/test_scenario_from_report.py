"""``lockgraph kernel model``: a scenario model from a lockdep report, then explored."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from lockgraph.errors import InputError
from lockgraph.kernel.splat import parse_reports
from lockgraph.kernel.to_scenario import model_from_text
from lockgraph.scenario import Compiled, check, compile_scenario, load, parse
from lockgraph.scenario.explore import Explorer
from lockgraph.scenario.render import verdicts

DATA = ROOT / "tests" / "kernel" / "data"
REPORTS = sorted(
    [
        *(DATA / "splats").glob("circular_*.txt"),
        *(DATA / "scenarios").glob("*.txt"),
    ]
)
SEED_000 = DATA / "scenarios" / "a_cachefiles_sb_writers_mmap_lock__splat.txt"
HAND_WRITTEN = ROOT / "examples" / "kernel" / "000-cachefiles-sb-writers" / "lockdep-splat.toml"


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_every_circular_report_converts_and_explores(path: Path) -> None:
    reports = [r for r in parse_reports(path.read_text(), str(path)) if r.kind == "circular"]
    if not reports:
        with pytest.raises(InputError, match="no circular locking report"):
            model_from_text(path.read_text(), str(path))
        return
    if not reports[0].cycle:  # truncated before its first lock: nothing to model
        with pytest.raises(InputError, match="holds no dependency to model"):
            model_from_text(path.read_text(), str(path))
        return
    text = model_from_text(path.read_text(), str(path))
    compiled = compile_scenario(parse(text, f"{path.name}.toml"))
    assert len(compiled.programs) == len(reports[0].cycle)
    result = Explorer(compiled).search(max_states=200_000)
    assert result.verdict in ("deadlock", "none"), text
    predicted = check(compiled)
    # check sees the report's own cycle, over the report's classes
    wanted = {c for c in reports[0].classes if c != "?"}
    cycles = [f for f in predicted.reported if f.kind == "circular-dependency"]
    assert any(wanted <= {c.name for c in f.classes} for f in cycles), text
    if result.verdict == "deadlock":
        assert "real" in {v for _, v in verdicts(result, predicted, compiled)}


def test_seed_000_reaches_the_verdict_of_the_hand_written_model() -> None:
    generated = compile_scenario(parse(model_from_text(SEED_000.read_text()), "seed000.toml"))
    by_hand = compile_scenario(load(str(HAND_WRITTEN)))
    assert Explorer(generated).search().verdict == Explorer(by_hand).search().verdict == "none"

    def five(compiled: Compiled) -> set[frozenset[str]]:
        found = check(compiled)
        return {frozenset(c.name for c in f.classes) for f in found.reported if len(f.classes) == 5}

    assert five(generated) == five(by_hand) != set()


def test_what_the_report_prints_decides_kinds_modes_and_comments() -> None:
    text = model_from_text(SEED_000.read_text())
    # kinds from the primitives and names
    assert 'kind = "percpu-rwsem"  # a superblock freeze level' in text
    assert 'kind = "rwsem"  # taken by down_read' in text
    # the fault of strncpy_from_user, the trylock of lock_vma_under_rcu
    assert '"fault user_memory",  # a page fault can happen here (__might_fault)' in text
    assert '"if trylock vma_vm_lock_lock read",' in text
    # sb_writers is only ever taken shared ({.+.+}): its holder holds it shared
    assert '"lock sb_writers_14 read",  # held: sb_writers#14, mode only ever taken shared' in text
    # what the report cannot settle
    assert "write assumed" in text
    assert "may alias" in text


def test_subclasses_of_one_class_are_two_instances() -> None:
    text = model_from_text((DATA / "splats" / "circular_16.txt").read_text())
    assert 'instances = ["sub1", "sub4"]' in text or 'instances = ["sub4", "sub1"]' in text
    assert '"lock type_i_mutex_dir_key_3[sub1]/1 write",' in text
    compiled = compile_scenario(parse(text, "c16.toml"))
    assert Explorer(compiled).search().verdict == "deadlock"


def test_cli_writes_a_model_that_explore_answers(tmp_path: Path) -> None:
    out = tmp_path / "model.toml"
    result = run_cli("kernel", "model", str(SEED_000), "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stderr
    explored = run_cli("scenario", "explore", str(out), timeout=60)
    assert explored.returncode == 0, explored.stderr
    assert "no deadlock in" in explored.stdout
    assert "closes over instances, but no interleaving of this model deadlocks" in explored.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rcu_01.txt", "no circular locking report found"),
        ("circular_11_damaged.txt", "the report holds no dependency to model"),
    ],
)
def test_cli_without_a_cycle_is_one_line(name: str, message: str) -> None:
    result = run_cli("kernel", "model", str(DATA / "splats" / name), timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
