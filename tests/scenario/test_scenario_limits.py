"""Bounded by design: deep nesting in a scenario is one clear error, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from lockgraph.errors import InputError
from lockgraph.scenario import check, compile_scenario, parse
from lockgraph.scenario.explore import Explorer
from lockgraph.scenario.model import MAX_NESTING


def call_chain(n: int) -> str:
    text = "[class.m]\n"
    for i in range(n):
        body = f'"call f{i + 1}()"' if i + 1 < n else '"lock m", "unlock m"'
        text += f"[function.f{i}]\nsteps = [{body}]\n"
    return text + '[task.T]\nsteps = ["call f0()"]\n'


def if_nest(n: int) -> str:
    steps = [f'"if c{i}"' for i in range(n)] + ['"lock m"', '"unlock m"'] + ['"end"'] * n
    return "[class.m]\n[task.T]\nsteps = [" + ", ".join(steps) + "]\n"


def deep_array(n: int) -> str:
    return "[scenario]\ntitle = " + "[" * n + "]" * n + '\n[task.T]\nsteps = ["lock m"]\n'


def test_nesting_up_to_the_limit_compiles_checks_and_explores() -> None:
    for text in (call_chain(MAX_NESTING), if_nest(MAX_NESTING - 1)):
        compiled = compile_scenario(parse(text, "deep.toml"))
        assert Explorer(compiled).search().verdict == "none"
        assert check(compiled).reported == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (call_chain(400), "calls, page faults and 'if' blocks nested deeper than 100"),
        (if_nest(400), "'if' blocks nested deeper than 100"),
        (deep_array(400), "arrays or inline tables nested deeper than 100"),
        (deep_array(100_000), "arrays or inline tables nested deeper than 100"),
        ("x = " + "{a = " * 500 + "1" + "}" * 500 + "\n", "inline tables nested deeper"),
    ],
)
def test_past_the_limit_one_error_names_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        compile_scenario(parse(text, "deep.toml"))
    assert message in str(info.value)
    assert str(info.value).startswith("deep.toml:")
    assert "\n" not in str(info.value)


def test_calls_inside_ifs_count_together() -> None:
    text = "[class.m]\n"
    for i in range(60):
        body = f'"if c", "call f{i + 1}()", "end"' if i + 1 < 60 else '"lock m", "unlock m"'
        text += f"[function.f{i}]\nsteps = [{body}]\n"
    text += '[task.T]\nsteps = ["call f0()"]\n'
    with pytest.raises(InputError, match="nested deeper than 100"):
        compile_scenario(parse(text, "deep.toml"))


def test_cli_says_it_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(call_chain(400))
    for command in ("check", "explore"):
        result = run_cli("scenario", command, str(path), timeout=60)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "nested deeper than 100" in result.stderr
