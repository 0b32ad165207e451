"""How long the reports take on a large graph: 10,000 lock classes, 100,000 dependencies.

The graph is layered, like real lock hierarchies: class i is held while classes
i+1 .. i+10 are taken, by 64 tasks in turn, and every 100th class is also taken
while holding the class four layers below it, which closes 100 short cycles. The
script builds the run with the engine, analyses it, and renders each format from
the same report side by side, so the figures compare within one run on one machine
(this one is noisy: compare ratios, not seconds across runs). ``--data-file`` also
times what ``lockgraph report -f html DATAFILE`` does: read the data file, render.
``--browser`` opens the page in headless Chromium and times it until it is drawn.

    .venv/bin/python benchmarks/html_report.py [--browser]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

from lockgraph.engine import Engine, Frame, Run, analyze
from lockgraph.report import RenderOptions, Report, render_to_string
from lockgraph.store import graph_counts, load_findings, load_run, save

CLASSES = 10_000
FANOUT = 10
CYCLE_EVERY = 100
TASKS = 64
TARGET_SECONDS = 5.0

T = TypeVar("T")


def timed(label: str, fn: Callable[[], T], results: dict[str, float]) -> T:
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    return value


def build() -> Run:
    engine = Engine(online=False)
    tasks = [engine.task(f"worker-{i}") for i in range(TASKS)]
    uses = []
    for i in range(CLASSES):
        cls = engine.lock_class(f"subsys{i // 100}.lock{i}")
        uses.append(engine.use(engine.lock(f"lock{i}", cls)))
    sites = [
        (
            Frame(f"pkg/mod{i % 50}.py", 10 + i % 400, f"take_{i}"),
            Frame(f"pkg/mod{i % 50}.py", 500, "caller"),
            Frame("pkg/main.py", 42, "main"),
        )
        for i in range(CLASSES)
    ]
    pairs = [(i, i + k) for i in range(CLASSES) for k in range(1, FANOUT + 1) if i + k < CLASSES]
    pairs += [(i + 4, i) for i in range(0, CLASSES - 4, CYCLE_EVERY)]
    for n, (a, b) in enumerate(pairs):
        task = tasks[n % TASKS]
        engine.acquire(task, uses[a], sites[a])
        engine.acquire(task, uses[b], sites[b])
        engine.release(task, uses[b].lock)
        engine.release(task, uses[a].lock)
    return engine.finish(sources=["synthetic"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    parser.add_argument("--data-file", action="store_true", help="also time from a data file")
    args = parser.parse_args()
    t: dict[str, float] = {}
    run = timed("build the run (engine)", build, t)
    findings = timed("analyse", lambda: analyze(run), t)
    deps = sum(1 for e in run.graph.edges.values() if e.bits)
    report = Report(findings, False, run, ["synthetic"], run.events, RenderOptions())
    outputs = {}
    for fmt in ("text", "json", "sarif", "html"):
        outputs[fmt] = timed(f"render {fmt}", lambda fmt=fmt: render_to_string(report, fmt), t)
    if args.data_file:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "big.lockgraph")
            timed("save the data file", lambda: save(path, run, findings), t)

            def from_data_file() -> str:
                stored = Report(load_findings(path), False, None, ["synthetic"])
                stored.graph_counts = graph_counts(path)
                return render_to_string(stored, "html")

            timed("html from the data file (read + render)", from_data_file, t)
            timed("read the whole run from the data file", lambda: load_run(path), t)
    print(f"{len(run.graph.classes):,} lock classes, {deps:,} dependencies, {run.events:,} events")
    print(f"{len(report.reported):,} findings, {len(report.pruned):,} pruned")
    for label, seconds in t.items():
        print(f"  {label:<44} {seconds:8.3f} s")
    html_s = t["render html"]
    print(f"  html page: {len(outputs['html']) / 1e6:.1f} MB")
    print(f"  ratio html / json render: {html_s / t['render json']:.2f}")
    print(f"  ratio html render / analyse: {html_s / t['analyse']:.2f}")
    if args.browser:
        browser_times(outputs["html"], t)
    ok = html_s < TARGET_SECONDS
    print(f"html under {TARGET_SECONDS:.0f} s: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


def browser_times(page_text: str, t: dict[str, float]) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    from browser import CHROMIUM_ARGS, chromium_path  # noqa: PLC0415

    executable = chromium_path()
    if executable is None:
        print("  (no chromium: browser timings skipped)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page_text)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto("file://" + path)
            page.wait_for_selector("html[data-ready]", timeout=120_000)
            t["chromium: open until drawn"] = time.perf_counter() - start
            start = time.perf_counter()
            page.locator("li.finding a").nth(50).click()
            page.wait_for_selector("li.finding.active[data-index='50']")
            t["chromium: select another finding"] = time.perf_counter() - start
            start = time.perf_counter()
            page.fill("#search", "subsys42")
            t["chromium: search"] = time.perf_counter() - start
            browser.close()
    for label in ("chromium: open until drawn", "chromium: select another finding"):
        print(f"  {label:<44} {t[label]:8.3f} s")
    print(f"  {'chromium: search':<44} {t['chromium: search']:8.3f} s")


if __name__ == "__main__":
    sys.exit(main())
