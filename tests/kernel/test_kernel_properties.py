"""Reports written by lockgraph's renderer, then damaged, read back to the same structure.

The damage is what consoles and mail clients do: console prefixes (printk
timestamps, caller ids, syslog), e-mail quoting at any depth, re-flowed long lines,
console lines of other printk callers interleaved, one-space indents, CRLF line
ends, undecoded quoted-printable, lost banners and titles.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_strategies import interleave, prefix, qp_encode, quote, reports, rewrap

from lockgraph.kernel.model import KFrame, KLock, Report
from lockgraph.kernel.render import render_report
from lockgraph.kernel.splat import parse_reports

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _frames(frames: list[KFrame]) -> list[str]:
    return [f.text() for f in frames]


def _lock(lock: KLock | None) -> Any:
    if lock is None:
        return None
    return (lock.name, lock.address, lock.usage, lock.wait, _frames(lock.at))


def structure(r: Report) -> dict[str, Any]:
    """Everything the renderer writes, as comparable plain data."""
    return {
        "kind": r.kind,
        "classes": r.classes,
        "kernel": r.kernel,
        "task": (r.task.name, r.task.context) if r.task else None,
        "acquiring": _lock(r.acquiring),
        "holding": _lock(r.holding),
        "chain": [
            (e.index, e.lock.name, e.lock.usage, e.lock.wait, _frames(e.stack)) for e in r.chain
        ],
        "chain_summary": r.chain_summary,
        "held": [(h.index, _lock(h.lock)) for h in r.held],
        "held_count": r.held_count,
        "scenario": (
            [(s.column, s.action, s.lock, s.in_interrupt) for s in r.scenario.steps]
            if r.scenario
            else None
        ),
        "usage_change": r.usage_change,
        "registered_at": _frames(r.registered_at),
        "freed": r.freed,
        "wait_context": r.wait_context,
        "backtrace": _frames(r.backtrace),
    }


def _parse_one(text: str) -> Report:
    parsed = parse_reports(text)
    assert len(parsed) == 1, [p.kind for p in parsed]
    return parsed[0]


@SETTINGS
@given(reports)
def test_rendered_reports_parse_back(report: Report) -> None:
    parsed = _parse_one(render_report(report))
    assert structure(parsed) == structure(report)
    assert parsed.complete, parsed.notes


@st.composite
def damages(draw: Any) -> dict[str, Any]:
    console = draw(st.sampled_from(["none", "stamp", "caller", "syslog"]))
    return {
        "console": console,
        "wrap": draw(st.one_of(st.none(), st.integers(60, 100))) if console != "none" else None,
        "interleave": draw(st.integers(2, 9)) if console == "caller" else None,
        "quote": draw(st.integers(0, 3)),
        "style": draw(st.sampled_from(["> ", ">", "> > "])),
        "indent": draw(st.booleans()),
        "qp": draw(st.booleans()),
        "crlf": draw(st.booleans()),
        "lose": draw(st.sampled_from(["nothing", "title", "banner+title"])),
    }


def damage(text: str, d: dict[str, Any]) -> str:
    lines = text.splitlines()
    if d["lose"] == "title":
        lines = [x for x in lines[:3] if not x.startswith(("WARNING:", "[ BUG"))] + lines[3:]
    elif d["lose"] == "banner+title":
        cut = next(i for i, x in enumerate(lines) if x.startswith("---"))
        lines = lines[cut + 1 :]
    if d["console"] != "none":
        caller = "T4242" if d["console"] == "caller" else ""
        lines = prefix(lines, caller=caller, syslog=d["console"] == "syslog")
    if d["interleave"]:  # on the console, before any mail client saw the text
        lines = interleave(lines, d["interleave"], "T17")
    if d["wrap"]:
        lines = rewrap(lines, d["wrap"])
    if d["quote"]:
        lines = quote(lines, d["quote"], d["style"])
    if d["indent"]:
        lines = [" " + x for x in lines]
    if d["qp"]:
        lines = qp_encode(lines)
    eol = "\r\n" if d["crlf"] else "\n"
    return eol.join(lines) + eol


@SETTINGS
@given(reports, damages())
def test_damaged_reports_parse_back_to_the_same_structure(
    report: Report, d: dict[str, Any]
) -> None:
    clean = structure(_parse_one(render_report(report)))
    damaged = structure(_parse_one(damage(render_report(report), d)))
    if d["lose"] == "banner+title" and not report.backtrace:
        # the version line sits between the banner and the dashes: it went with them
        clean["kernel"] = damaged["kernel"] = ""
    assert damaged == clean


@SETTINGS
@given(st.lists(reports, min_size=2, max_size=4), st.booleans())
def test_several_reports_in_one_log(many: list[Report], stamped: bool) -> None:
    lines: list[str] = []
    for r in many:
        lines.append("some other console line")
        lines.extend(render_report(r).splitlines())
    if stamped:
        lines = prefix(lines)
    parsed = parse_reports("\n".join(lines))
    assert [structure(p) for p in parsed] == [structure(r) for r in many]
