"""Kernel readers' throughput: dmesg scanning (MB/s) and lock tracepoints (events/s).

Run ``python benchmarks/kernel_parse.py`` (``--quick`` for a smoke run). Every figure
is measured in this one run, beside a baseline measured the same way, because the
machine is noisy:

* dmesg: ``splat.scan`` over a large log where lockdep reports are a small part of
  the text (real logs are mostly other output), against reading the same file and
  counting its lines (the I/O floor); and the parser alone on nothing but reports.
* traces: ``TraceImporter`` on ftrace text, against the engine fed the same events
  directly (the engine's own speed: no text at all) and lockgraph's own trace
  format read by ``sources.trace`` (the memoised-line reader it follows).

The targets are 50 MB/s of dmesg and 1,000,000 trace events per second.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lockgraph.engine import Engine  # noqa: E402
from lockgraph.engine.native import describe  # noqa: E402
from lockgraph.kernel.splat import ScanStats, parse_reports, scan  # noqa: E402
from lockgraph.kernel.tracepoints import TraceImporter  # noqa: E402
from lockgraph.sources.trace import TraceReader  # noqa: E402

SPLATS = ROOT / "tests" / "kernel" / "data" / "splats"

NOISE = [
    "usb {a}-{b}: new high-speed USB device number {n} using xhci_hcd",
    "EXT4-fs (sda{a}): mounted filesystem with ordered data mode. Quota mode: none.",
    'audit: type=1400 audit({n}.{b}:{a}): apparmor="DENIED" operation="open" profile="snap"',
    "IPv6: ADDRCONF(NETDEV_CHANGE): eth{a}: link becomes ready",
    "systemd[1]: Started Session {n} of User root.",
    "e1000e 0000:00:1f.{a}: eth{b}: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None",
    "nvme nvme{a}: {n}/0/0 default/read/poll queues",
    "sd {a}:0:0:0: [sd{b}] 976773168 512-byte logical blocks: (500 GB/466 GiB)",
    "kvm: emulating exception {n} at 0x{n:x}",
    "device veth{n} entered promiscuous mode",
    "ata{a}: SATA link up 6.0 Gbps (SStatus 133 SControl 300)",
    "perf: interrupt took too long ({n} > {a}), lowering kernel.perf_event_max_sample_rate",
]


def make_log(path: Path, megabytes: float, report_share: float, seed: int = 1) -> int:
    """A dmesg-like log of about ``megabytes``; ``report_share`` of it lockdep reports."""
    rng = random.Random(seed)
    reports = [p.read_text(errors="replace") for p in sorted(SPLATS.glob("*.txt"))]
    reports = ["\n".join(x for x in r.splitlines() if not x.startswith("#")) for r in reports]
    target = int(megabytes * 1e6)
    written = 0
    stamp = 0.0
    count = 0
    with path.open("w") as out:
        while written < target:
            if rng.random() < report_share / 15:  # a report is ~15 times a noise burst
                text = rng.choice(reports)
                count += 1
            else:
                lines = []
                for _ in range(60):
                    stamp += rng.random() / 100
                    tmpl = rng.choice(NOISE)
                    body = tmpl.format(
                        a=rng.randrange(9), b=rng.randrange(99), n=rng.randrange(99999)
                    )
                    lines.append(f"[{stamp:12.6f}] {body}")
                text = "\n".join(lines)
            out.write(text + "\n")
            written += len(text) + 1
    return count


def best(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The shortest of ``repeat`` runs (the machine is shared), and the last result."""
    times = []
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def bench_dmesg(megabytes: float, repeat: int) -> list[str]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "dmesg.log"
        planted = make_log(log, megabytes, report_share=0.01)
        size = log.stat().st_size / 1e6

        def floor_run() -> int:
            with log.open(errors="replace") as f:
                return sum(chunk.count("\n") for chunk in iter(lambda: f.read(1 << 22), ""))

        stats = ScanStats()

        def scan_run() -> int:
            with log.open(errors="replace") as f:
                return sum(1 for _ in scan(f, "dmesg.log", stats))

        floor, lines = best(repeat, floor_run)
        took, found = best(repeat, scan_run)
        stats.regions //= repeat
        out.append(
            f"dmesg scan: {size:.1f} MB, {lines} lines, {found} reports ({planted} planted, "
            f"{stats.regions} regions parsed): {size / took:.1f} MB/s "
            f"(reading and counting lines: {size / floor:.0f} MB/s; scan takes "
            f"{took / floor:.1f}x the I/O floor)"
        )
        only = "\n".join(r.read_text(errors="replace") for r in sorted(SPLATS.glob("*.txt"))) + "\n"
        text = only * max(1, int(2e6 // len(only)))
        took, parsed = best(repeat, lambda: parse_reports(text))
        n = len(parsed)  # type: ignore[arg-type]
        out.append(
            f"parser alone, text that is all reports: {len(text) / 1e6:.1f} MB, {n} reports: "
            f"{len(text) / 1e6 / took:.1f} MB/s"
        )
    return out


def make_trace(
    events: int, tasks: int = 64, classes: int = 200, paths: int = 400, seed: int = 2
) -> tuple[list[str], list[str], list[tuple[int, list[int]]]]:
    """The same workload as ftrace text, as lockgraph's trace format, and as plans.

    Tasks run code paths drawn from a fixed set (a kernel's lock chains are few next
    to its lock events: /proc/lockdep_stats shows thousands of chains for millions of
    acquisitions); a few paths are hot. Classes keep one global order: no cycles.
    """
    rng = random.Random(seed)
    names = [f"&lock{i}->mutex" for i in range(classes)]
    addrs = [f"{0xFFFF888100000000 + 64 * i:016x}" for i in range(classes)]
    pool = [sorted(rng.sample(range(classes), rng.choice((1, 2, 2, 3, 4)))) for _ in range(paths)]
    weights = [1 / (i + 1) for i in range(paths)]
    ftrace = ["# tracer: nop", "#"]
    lgt = ["lockgraph-trace 1"]
    plans: list[tuple[int, list[int]]] = []
    stamp = 100.0
    made = 0
    while made < events:
        task = rng.randrange(tasks)
        held = rng.choices(pool, weights)[0]
        plans.append((task, held))
        comm = f"worker{task}"
        flags = "....." if task % 4 else "d..1."
        for op, seq in (("lock_acquire", held), ("lock_release", held[::-1])):
            for c in seq:
                stamp += 0.000001
                ftrace.append(
                    f"{comm:>16}-{1000 + task:<7} [{task % 8:03d}] {flags} {stamp:12.6f}: "
                    f"{op}: {addrs[c]} {names[c]}"
                )
                lgt.append(f"{'acq' if op == 'lock_acquire' else 'rel'} T{task} L{c}")
                made += 1
    return [x + "\n" for x in ftrace], [x + "\n" for x in lgt], plans


def bench_traces(events: int, repeat: int) -> list[str]:
    ftrace, lgt, plans = make_trace(events)
    n = sum(len(h) * 2 for _, h in plans)

    def direct_run() -> None:
        engine = Engine()
        tasks = [engine.task(f"T{i}") for i in range(64)]
        locks = [engine.lock(f"L{i}", engine.lock_class(f"&lock{i}->mutex")) for i in range(200)]
        uses = [engine.use(lock) for lock in locks]
        acquire, release = engine.acquire, engine.release
        for task, held in plans:
            t = tasks[task]
            for c in held:
                acquire(t, uses[c], None)
            for c in reversed(held):
                release(t, locks[c], None)

    def own_run() -> None:
        TraceReader(Engine(), "bench.lgt").read(lgt)

    def ftrace_run() -> TraceImporter:
        importer = TraceImporter(Engine())
        importer.read(ftrace, "bench.trace")
        return importer

    direct, _ = best(repeat, direct_run)
    own, _ = best(repeat, own_run)
    took, result = best(repeat, ftrace_run)
    assert isinstance(result, TraceImporter)
    importer = result
    size = sum(len(x) for x in ftrace) / 1e6
    return [
        f"trace events: {n} events ({size:.0f} MB of ftrace text): {n / took:,.0f} events/s "
        f"(engine fed directly: {n / direct:,.0f}/s, lockgraph's own format: {n / own:,.0f}/s; "
        f"ftrace reading takes {took / direct:.2f}x the engine alone, "
        f"{took / own:.2f}x lockgraph's format)",
        f"  ({importer.stats.events} events counted by the importer)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (the best counts)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.events, args.repeat = 2.0, 20_000, 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, C accelerator: {describe()}")
    for line in bench_dmesg(args.megabytes, args.repeat) + bench_traces(args.events, args.repeat):
        print(line)


if __name__ == "__main__":
    main()
