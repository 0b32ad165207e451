"""Configuration: the TOML subset reader (Python 3.10 has no tomllib) and the
settings loaded from pyproject.toml / lockgraph.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgraph.errors import InputError
from lockgraph.runtime import _config, _toml

SAMPLE = """\
# a comment
[project]
name = "demo"   # trailing comment

[tool.lockgraph]
policy = 'warn'
parallel = true
suppress = [
    "class:Vendor.*",  # vendored code
    "site:tests/*",
]
order = [["A", "B"], ["C", "D", "E"]]
"data-file" = "x.db"
ratio = 1.5
count = -3
escaped = "tab\\there \\"q\\" \\u00e9"
"""


def test_subset_matches_tomllib_on_a_sample() -> None:
    tomllib = pytest.importorskip("tomllib")
    assert _toml.loads_subset(SAMPLE) == tomllib.loads(SAMPLE)


_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=4))


def _dump(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert isinstance(value, list)
    return "[" + ", ".join(_dump(v) for v in value) + "]"


@given(st.dictionaries(_keys, _values, max_size=6))
def test_subset_agrees_with_tomllib(table: dict[str, object]) -> None:
    tomllib = pytest.importorskip("tomllib")
    text = "[tool.lockgraph]\n" + "".join(f"{k} = {_dump(v)}\n" for k, v in table.items())
    assert _toml.loads_subset(text) == tomllib.loads(text)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a = 1\nb = \n", 2),
        ("a = 'open\n", 1),
        ("[t\nx = 1\n", 1),
        ("a = 1\na = 2\n", 2),
        ("a = [1, 2\n", 2),
    ],
)
def test_subset_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(_toml.TomlError) as info:
        _toml.loads_subset(text)
    assert info.value.line == line


def test_load_from_pyproject_and_precedence(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        SAMPLE.replace("ratio = 1.5\n", "")
        .replace("count = -3\n", "")
        .replace('escaped = "tab\\there \\"q\\" \\u00e9"\n', "")
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    config = _config.load(start=str(deep))
    assert config.policy == "warn" and config.parallel and config.data_file == "x.db"
    assert config.order == [["A", "B"], ["C", "D", "E"]]
    (tmp_path / "a" / "lockgraph.toml").write_text("[lockgraph]\npolicy = 'raise'\n")
    assert _config.load(start=str(deep)).policy == "raise"


def test_bad_settings_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "lockgraph.toml"
    path.write_text("# settings\n\nparallel = 'yes'\n")
    with pytest.raises(InputError) as info:
        _config.load(str(path))
    assert str(info.value) == f"{path}:3: setting 'parallel' must be true or false, not 'yes'"
    path.write_text("colour = 'red'\n")
    with pytest.raises(InputError, match="1: unknown lockgraph setting 'colour'"):
        _config.load(str(path))
    path.write_text("policy = \n")
    with pytest.raises(InputError, match=":1: bad TOML"):
        _config.load(str(path))


def test_environment_round_trip() -> None:
    config = _config.Config(policy="warn", suppress=["kind:x"], order=[["A", "B"]])
    again = _config.Config.from_env(config.to_env())
    again.source = config.source
    assert again == config
