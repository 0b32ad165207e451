"""Every shipped scenario gives exactly the answer its README states."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from lockgraph.scenario import check, compile_scenario, load
from lockgraph.scenario.explore import Explorer
from lockgraph.scenario.render import verdicts

EXAMPLES = ROOT / "examples"
K000 = "kernel/000-cachefiles-sb-writers"
K001 = "kernel/001-gfs2-glock-fault"
K002 = "kernel/002-dax-i-mmap-lock"
K003 = "kernel/003-xfs-iolock-fault"
K004 = "kernel/004-fsnotify-mark-mutex"

SB, MM, INV = "sb_writers#14", "&mm->mmap_lock", "mapping.invalidate_lock#3"
VAL, VMA = "&vnode->validate_lock", "&vma->vm_lock->lock"
GLOCK, IMMAP = "gfs2 inode glock", "&mapping->i_mmap_rwsem"
IOLOCK = "&(&ip->i_iolock)->mr_lock"
IRWSEM, MARK = "&sb->s_type->i_mutex_key", "&group->mark_mutex"

# file: (explore verdict, wait-for cycle, {(check kind, classes): explore's verdict on it})
EXPECTED: dict[str, tuple[str, list[str], dict[tuple[str, str], str]]] = {
    f"{K000}/lockdep-splat.toml": (
        "none",
        [],
        {
            ("circular-dependency", f"{MM} -> {VMA} -> {INV} -> {VAL} -> {SB}"): (
                "class-level-only"
            ),
            ("circular-dependency", f"{SB} -> {MM} -> {INV} -> {VAL}"): "unreachable",
        },
    ),
    f"{K000}/freeze-write.toml": (
        "deadlock",
        ["invalidate", "freeze", "write", "mmap", "fault"],
        {("circular-dependency", f"{SB} -> {MM} -> {INV}"): "real"},
    ),
    f"{K000}/freeze-write-as-written.toml": (
        "none",
        [],
        {("circular-dependency", f"{SB} -> {MM} -> {INV}"): "unreachable"},
    ),
    f"{K000}/xattr-freeze.toml": (
        "deadlock",
        ["fault", "freeze", "setxattr", "mmap"],
        {("circular-dependency", f"{SB} -> {MM}"): "real"},
    ),
    f"{K000}/xattr-freeze-fixed.toml": ("none", [], {}),
    # one task's page fault re-takes the glock: lockdep reports the mmap_lock cycle too
    f"{K001}/recursive.toml": (
        "deadlock",
        ["P"],
        {
            ("circular-dependency", f"{MM} -> {GLOCK}"): "other",
            ("recursive-locking", GLOCK): "real",
        },
    ),
    f"{K001}/abba.toml": (
        "deadlock",
        ["P1", "P2"],
        {
            ("circular-dependency", f"{MM} -> {GLOCK}"): "class-level-only",
            ("recursive-locking", GLOCK): "real",
        },
    ),
    f"{K001}/abba-two-nodes.toml": (
        "deadlock",
        ["P1", "P2"],
        {
            ("circular-dependency", f"{MM} -> {GLOCK}"): "class-level-only",
            ("recursive-locking", GLOCK): "real",
        },
    ),
    f"{K001}/fixed.toml": ("none", [], {}),
    f"{K001}/fix-trylock.toml": ("none", [], {}),
    f"{K002}/dax-fault.toml": ("hang", [], {}),
    f"{K002}/dax-fault-fixed.toml": ("none", [], {}),
    f"{K003}/fault-iolock.toml": (
        "deadlock",
        ["reader", "punch"],
        {
            ("circular-dependency", f"{MM} -> {IOLOCK}"): "other",
            ("recursive-locking", IOLOCK): "real",
        },
    ),
    f"{K003}/fault-ilock.toml": ("none", [], {}),
    f"{K003}/splice-execve.toml": (
        "deadlock",
        ["cpu0", "punch", "cpu2", "cpu1"],
        {
            (
                "circular-dependency",
                f"{IOLOCK} -> &pipe->mutex/1 -> &sig->cred_guard_mutex",
            ): "real"
        },
    ),
    f"{K004}/abba.toml": (
        "deadlock",
        ["nfsd", "inotify"],
        {("circular-dependency", f"{MARK} -> {IRWSEM}"): "real"},
    ),
    f"{K004}/dnotify.toml": ("deadlock", ["nfsd"], {("recursive-locking", IRWSEM): "real"}),
    f"{K004}/fixed.toml": ("none", [], {}),
    "scenarios/bank-transfer.toml": (
        "deadlock",
        ["t1", "t2", "t3"],
        {("recursive-locking", "Account.lock"): "real"},
    ),
    "scenarios/bank-transfer-ordered.toml": (
        "none",
        [],
        {("recursive-locking", "Account.lock"): "class-level-only"},
    ),
    "scenarios/philosophers.toml": (
        "deadlock",
        ["p0", "p1", "p2", "p3", "p4"],
        {("recursive-locking", "fork"): "real"},
    ),
    "scenarios/philosophers-ordered.toml": (
        "none",
        [],
        {("recursive-locking", "fork"): "class-level-only"},
    ),
}


def _rotate(cycle: list[str]) -> list[str]:
    if not cycle:
        return cycle
    k = cycle.index(min(cycle))
    return cycle[k:] + cycle[:k]


def test_every_example_is_listed() -> None:
    shipped = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.toml")}
    assert shipped == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_answer(name: str) -> None:
    verdict, cycle, predicted = EXPECTED[name]
    compiled = compile_scenario(load(str(EXAMPLES / name)))
    result = Explorer(compiled).search()
    assert result.verdict == verdict
    assert _rotate(result.cycle) == _rotate(cycle)
    found = check(compiled)
    cycles = {
        (f.kind, " -> ".join(c.name for c in f.classes)): v
        for f, v in verdicts(result, found, compiled)
    }
    assert cycles == predicted


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_readme_cites_a_source(name: str) -> None:
    readme = (EXAMPLES / name).parent / "README.md"
    text = readme.read_text()
    assert Path(name).name in text
    if name.startswith("kernel/"):
        assert "seed" in text.lower()


def test_lockdep_splat_cycle_is_the_reports_five_classes() -> None:
    found = check(compile_scenario(load(str(EXAMPLES / K000 / "lockdep-splat.toml"))))
    five = [f for f in found.reported if len(f.classes) == 5]
    assert len(five) == 1
    assert {c.name for c in five[0].classes} == {SB, MM, INV, VAL, VMA}
    assert five[0].instance_level == "class"


def test_dax_paths_bad_unlock_and_leak() -> None:
    found = check(compile_scenario(load(str(EXAMPLES / K002 / "dax-fault.toml"))))
    by_kind = sorted((f.kind, f.key[-1]) for f in found.reported)
    assert by_kind == [
        ("bad-unlock-balance", IMMAP),
        ("bad-unlock-balance", "released as read, held as write"),
        ("held-at-exit", IMMAP),
        ("held-at-exit", IMMAP),
    ]
    contexts = sorted(f.key[0] for f in found.reported if f.kind == "held-at-exit")
    assert contexts == ["page fault on MX", "task-exit"]
    summaries = {s.name: s for s in found.functions}
    assert summaries["__dax_fault"].releases_unheld == {"i_mmap[X]"}
    assert summaries["__dax_fault"].returns_holding == {"i_mmap[X]"}


def test_dax_hang_names_the_task_that_kept_the_lock() -> None:
    compiled = compile_scenario(load(str(EXAMPLES / K002 / "dax-fault.toml")))
    result = Explorer(compiled).search()
    assert [(w.task, w.holders) for w in result.waiting] == [
        ("T1", [("T2", "ended holding write")])
    ]


def test_fsnotify_cycle_needs_the_oneshot_path() -> None:
    """No single path of nfsd takes both locks... check still pairs the paths."""
    compiled = compile_scenario(load(str(EXAMPLES / K004 / "abba.toml")))
    found = check(compiled)
    (cycle,) = [f for f in found.reported if f.kind == "circular-dependency"]
    nfsd = next(t for t in found.tasks if t.task == "nfsd")
    oneshot = [
        n for n, d in zip(nfsd.engine_names, nfsd.decisions, strict=False) if "oneshot=yes" in d
    ]
    tasks = {d.witness.task for d in cycle.dependencies}
    assert tasks == {oneshot[0], "inotify"}
    assert any("oneshot=no" in d for d in nfsd.decisions)
