"""``/proc/lockdep``, ``/proc/lockdep_chains`` and the statistics files."""

from __future__ import annotations

from pathlib import Path

from lockgraph.engine import Engine, analyze
from lockgraph.kernel.proc import GraphFeeder, parse_proc
from lockgraph.kernel.splat import parse_reports

PROC = Path(__file__).parent / "data" / "proc"
SPLATS = Path(__file__).parent / "data" / "splats"


def _read(name: str) -> str:
    return (PROC / name).read_text(errors="replace")


def test_every_proc_sample_is_recognised() -> None:
    kinds = {p.name: parse_proc(p.read_text(errors="replace")).kind for p in PROC.glob("*.txt")}
    assert kinds == {
        "lockdep_01_prove_locking.txt": "lockdep",
        "lockdep_02_variants.txt": "lockdep",
        "lockdep_chains_01.txt": "lockdep_chains",
        "lockdep_stats_01_crossrelease_2017.txt": "lockdep_stats",
        "lockdep_stats_02_partial_variants.txt": "lockdep_stats",
        "lock_stat_01_vmap.txt": "lock_stat",
        "lock_stat_02_doc_sample.txt": "lock_stat",
    }


def test_lockdep_with_prove_locking() -> None:
    p = parse_proc(_read("lockdep_01_prove_locking.txt"))
    assert [c.name for c in p.classes] == ["cgroup_mutex", "(console_sem).lock", "console_lock"]
    cgroup = p.classes[0]
    assert (cgroup.key, cgroup.forward, cgroup.backward, cgroup.usage) == (
        "ffffffffa6b63c90",
        37,
        1,
        "+.+.",
    )
    assert cgroup.deps[:2] == [
        ("ffffffffa6b78d70", "pcpu_alloc_mutex"),
        ("ffff8a783d5e8760", "lock#2"),
    ]
    assert len(p.classes[2].deps) == 26 and p.dependencies == 33
    assert "subsys mutex#7" in [n for _, n in p.classes[2].deps]  # a name with a space


def test_lockdep_variants() -> None:
    p = parse_proc(_read("lockdep_02_variants.txt"))
    by_name = {c.name: c for c in p.classes}
    mutex = [c.usage for c in p.classes if c.name == "cgroup_mutex"]
    assert mutex == ["....", "", "+.+."]  # before 4840ce2267f9, after it, with PROVE_LOCKING
    assert by_name["(wq_completion)loop0"].ops in (25, 26)  # CONFIG_DEBUG_LOCKDEP's OPS:
    assert by_name["saa7115:1581:(hdl)->lock"].usage == "+.+.+."  # the 6-character usage
    assert by_name["pernet_ops_rwsem"].key == "cdf4d414"  # hashed, quoted, zeros dropped
    work = by_name["(work_completion)(&worker->work)"]
    assert ("828683e0", "mapping.invalidate_lock#2") in [(k[-8:], n) for k, n in work.deps]
    garbage = [c for c in p.classes if "M>" in c.name or "?" in c.name]
    assert garbage, "the use-after-free name is kept, control bytes replaced"


def test_chains() -> None:
    p = parse_proc(_read("lockdep_chains_01.txt"))
    assert len(p.chains) == 14
    assert [c.irq_context for c in p.chains[:6]] == ["0", "0", "0", "0", "0", "softirq"]
    assert [n for _, n in p.chains[4].classes] == [
        "&pmus_srcu",
        "&pmus_srcu",
        "pmc_reserve_mutex",
        "fs_reclaim",
        "mmu_notifier_invalidate_range_start",
    ]
    names = [n for ch in p.chains for _, n in ch.classes]
    assert "dev->qdisc_tx_busylock ?: &qdisc_tx_busylock" in names
    assert any(n.startswith("&(({ do { const void *__vpp_verify") for n in names)


def test_stats() -> None:
    p = parse_proc(_read("lockdep_stats_01_crossrelease_2017.txt"))
    assert p.stats["lock-classes"] == 980  # the second dump of the file wins
    assert p.maxima["lock-classes"] == 8191
    assert p.stats["debug_locks"] == 1
    old = parse_proc(_read("lockdep_stats_02_partial_variants.txt"))
    assert old.stats["lock-types"] == 694  # the 2006 label
    assert old.stats["find-mask backwards checks"] == 39521  # the first of two columns


def test_lock_stat() -> None:
    p = parse_proc(_read("lock_stat_01_vmap.txt"))
    assert p.version == "0.4"
    first = p.lock_stat[0]
    assert first["class"] == "vmap_area_lock" and first["contentions"] == 2554276
    assert first["waittime-total"] == 11719647.67
    points = first["points"]
    assert isinstance(points, list) and points[0]["symbol"] == "alloc_vmap_area+0x1c7/0x910"
    doc = parse_proc(_read("lock_stat_02_doc_sample.txt"))
    rows = [(r["class"], r["rw"]) for r in doc.lock_stat]
    assert ("&mm->mmap_lock", "W") in rows and ("&mm->mmap_lock", "R") in rows


def test_graph_from_lockdep_has_no_cycle_and_unknown_instances() -> None:
    engine = Engine()
    feeder = GraphFeeder(engine)
    assert feeder.feed_lockdep(parse_proc(_read("lockdep_01_prove_locking.txt"))) == 33
    feeder.feed_chains(parse_proc(_read("lockdep_chains_01.txt")))
    run = engine.finish(end_of_trace=False)
    feeder.class_only(run)
    assert not analyze(run)  # repeated classes in chains are lockdep-approved nesting
    assert run.graph.find_class("console_lock") is not None
    assert all(not e.instances_complete for e in run.graph.edges.values())


def test_a_cycle_across_sources() -> None:
    lockdep = (
        "all lock classes:\nffffffff00000001 FD: 1 BD: 1 +.+.: alpha\n -> [ffffffff00000002] beta\n"
    )
    chains = "irq_context: 0\n[ffffffff00000002] beta\n[ffffffff00000003] gamma\n\n"
    engine = Engine()
    feeder = GraphFeeder(engine)
    feeder.feed_lockdep(parse_proc(lockdep))
    feeder.feed_chains(parse_proc(chains))
    report = parse_reports(
        "WARNING: bad unlock balance detected!\n"
        "t/1 is trying to release lock (delta) at:\n"
        "[<ffffffff81000000>] k+0x1/0x2\n"
        "but there are no more locks to release!\n\n"
        "2 locks held by t/1:\n"
        " #0: ffff888000000001 (gamma){+.+.}, at: g+0x1/0x2\n"
        " #1: ffff888000000002 (alpha){+.+.}, at: f+0x1/0x2\n"
    )
    assert feeder.feed_report(report[0], "r") == 2
    run = engine.finish(end_of_trace=False)
    feeder.class_only(run)
    (finding,) = analyze(run)
    assert finding.kind == "circular-dependency"
    assert sorted(c.name for c in finding.classes) == ["alpha", "beta", "gamma"]
    assert finding.instance_level == "unknown"
    sites = [d.witness.acquirer_site.render() for d in finding.dependencies]
    assert "f+0x1/0x2" in sites


def test_reports_merge_into_a_graph() -> None:
    engine = Engine()
    feeder = GraphFeeder(engine)
    for path in sorted(SPLATS.glob("circular_0*.txt")):
        for r in parse_reports(path.read_text(), path.name):
            feeder.feed_report(r, path.stem)
    run = engine.finish(end_of_trace=False)
    findings = analyze(run)
    # every circular report closes its own cycle; circular_02 and _06 share one
    assert len([f for f in findings if f.kind == "circular-dependency"]) >= 8
