"""The scenario reader: what it accepts, and a file:line error for every mistake."""

from __future__ import annotations

import pytest

from lockgraph.errors import InputError
from lockgraph.scenario import compile_scenario, parse
from lockgraph.scenario.explore import Explorer
from lockgraph.scenario.model import IfStep, LockStep

GOOD = """\
[scenario]
title = "t"

[class.m]
kind = "mutex"

[class.rw]
kind = "rwsem"
name = "&rw->lock"
instances = ["A", "B"]

[event.done]

[mapping.M]
fault = "f(A)"

[function.f]
params = ["x"]
steps = [
    "lock rw[x] read",   # a comment
    "if trylock m",
    "  unlock m",
    "else",
    "  signal done",
    "end",
    "unlock rw[x]",
]

[task.T]
steps = ["call f(B)", "fault M", "wait done"]
"""


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        compile_scenario(parse(text, "s.toml"))
    return info.value


def test_good_scenario_parses() -> None:
    sc = parse(GOOD, "s.toml")
    assert sc.title == "t"
    assert sc.classes["rw"].instances == ("A", "B")
    assert sc.classes["rw"].name == "&rw->lock"
    assert sc.classes["mmap_lock"].implicit
    assert sc.classes["mmap_lock"].instances == ("T",)
    f = sc.functions["f"]
    assert [s.line for s in f.steps] == [20, 21, 26]
    first = f.steps[0]
    assert isinstance(first, LockStep) and first.mode == "read"
    branch = f.steps[1]
    assert isinstance(branch, IfStep)
    assert (branch.else_line, branch.end_line) == (23, 25)
    assert branch.cond.trylock is not None


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('kind = "mutex"', 'kind = "mutexx"', 5, "unknown lock kind 'mutexx'"),
        ('"lock rw[x] read",', '"lokc rw[x] read",', 20, "unknown step 'lokc'"),
        ('"lock rw[x] read",', '"lock rx[x] read",', 20, "unknown lock class 'rx'"),
        ('"lock rw[x] read",', '"lock rw[x] shared",', 20, "cannot be taken in mode 'shared'"),
        ('"lock rw[x] read",', '"lock rw[Q] read",', 20, "unknown instance 'Q' of rw"),
        ('"lock rw[x] read",', '"lock rw read",', 20, "rw has instances (A, B)"),
        ('"lock rw[x] read",', '"lock m[x]",', 20, "m has no instances"),
        ('"lock rw[x] read",', '"freeze m",', 20, "freeze needs a percpu-rwsem"),
        ('"lock rw[x] read",', '"lock rw[x] read extra",', 20, "unexpected 'extra'"),
        ('"lock rw[x] read",', '"lock rw[x read",', 20, "expected ']'"),
        ('    "end",\n', "", 23, "'else' without 'end'"),
        ('    "else",\n    "  signal done",\n    "end",\n', "", 21, "'if' without 'end'"),
        ('    "if trylock m",\n', "", 22, "'else' without 'if'"),
        ('"else",', '"else now",', 23, "'else' takes nothing after it"),
        ('"call f(B)"', '"call g(B)"', 30, "unknown function 'g'"),
        ('"call f(B)"', '"call f(B, A)"', 30, "f takes 1 argument (x), 2 given"),
        ('"fault M"', '"fault N"', 30, "unknown mapping 'N'"),
        ('"wait done"', '"wait gone"', 30, "unknown event 'gone'"),
        ('steps = ["call f(B)"', 'stepz = ["call f(B)"', 30, "unknown key 'stepz' in [task.T]"),
        ("[mapping.M]", "[maping.M]", 14, "unknown table [maping]"),
        ('instances = ["A", "B"]', 'instances = ["A", "A"]', 10, "duplicate names"),
        ('instances = ["A", "B"]', 'instances = "A"', 10, "must be a list of strings"),
        ('title = "t"', 'title = "t', 2, "invalid TOML"),
        ('fault = "f(A)"', 'fault = "f(A"', 15, "expected ','"),
        ('"lock rw[x] read",', '"lock rw[x] recursive-read",', 20, "cannot be taken in mode"),
        ('steps = ["call f(B)"', 'context = "irq"\nsteps = ["call f(B)"', 30, "unknown context"),
    ],
)
def test_errors_name_file_and_line(old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    err = _error(GOOD.replace(old, new, 1))
    assert err.path == "s.toml"
    assert err.line == line, str(err)
    assert message in err.detail, str(err)
    assert str(err).startswith(f"s.toml:{line}: ")


def test_error_inside_a_call_names_the_call_chain() -> None:
    text = GOOD.replace('"call f(B)"', '"call f(Z)"')
    err = _error(text)
    assert err.line == 20  # the step that uses the bad instance
    assert "unknown instance 'Z'" in err.detail
    assert "f(Z) called at line 30" in err.detail


def test_recursive_call_is_an_error() -> None:
    text = GOOD.replace('"unlock rw[x]",\n]', '"unlock rw[x]",\n    "call f(x)",\n]')
    err = _error(text)
    assert "recursive call of f" in err.detail
    assert err.line == 27


def test_no_tasks_is_an_error() -> None:
    with pytest.raises(InputError, match="no tasks"):
        parse("[class.m]\n", "s.toml")


def test_condition_argument_must_be_a_condition() -> None:
    text = """\
[function.f]
params = ["c"]
steps = ["if c", "end"]

[task.T]
steps = ["call f(maybe)"]
"""
    err = _error(text)
    assert err.line == 6
    assert "condition parameter 'c'" in err.detail


def test_retry_without_a_step_is_an_error() -> None:
    text = '[task.T]\nsteps = ["retry"]\n'
    with pytest.raises(InputError, match="retry loops for ever"):
        Explorer(compile_scenario(parse(text, "s.toml"))).search()
