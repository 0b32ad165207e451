"""Configuration: the TOML subset reader (Python 3.10 has no tomllib) and the
settings loaded from pyproject.toml / lockgraph.toml."""

from __future__ import annotations

import tempfile
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


# -- robustness: every odd configuration is one InputError naming the file ----------------

PYPROJECT = """\
[project]
name = "demo"
readme = {file = "README.md", content-type = "text/markdown"}
authors = [{name = "A. Person", email = "a@example.org"}]
description = \"\"\"several
lines, with "quotes" and a \\\""" inside\"\"\"
literal = '''raw
text'''
released = 1979-05-27 07:32:00Z
dependencies = [
    "lockgraph",  # a comment in an array
    ["nested", [1, 2]],
]

[[tool.mypy.overrides]]
module = "x.*"

[tool.lockgraph]
policy = "warn"
order = [["A", "B"]]
exit_status = 70

[tool.other]
x = {a = 1}
"""


def test_subset_reads_the_lockgraph_table_of_a_real_pyproject() -> None:
    """Python 3.10 reads a whole pyproject.toml with the subset: what lies outside
    [tool.lockgraph] (inline tables, multi-line strings, dates, arrays of tables) is
    skipped, and the table itself is what tomllib reads."""
    data = _toml.loads_subset(PYPROJECT, ("tool", "lockgraph"))
    assert data["tool"]["lockgraph"] == {"policy": "warn", "order": [["A", "B"]], "exit_status": 70}
    tomllib = pytest.importorskip("tomllib")
    assert tomllib.loads(PYPROJECT)["tool"]["lockgraph"] == data["tool"]["lockgraph"]
    with pytest.raises(_toml.TomlError, match="line 3: expected a value"):
        _toml.loads_subset(PYPROJECT)  # without a table to keep to, nothing is skipped


def test_a_pyproject_above_that_is_not_utf8(tmp_path: Path) -> None:
    """Without a lockgraph table it is not lockgraph's business; with one, one error
    naming the file and the line."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "\xff\xfe"\n')
    assert _config.load(start=str(deep)) == _config.Config()
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.lockgraph]\npolicy = "\xff"\n')
    with pytest.raises(InputError) as info:
        _config.load(start=str(deep))
    assert (
        str(info.value) == f"{tmp_path / 'pyproject.toml'}:2: not UTF-8 text (TOML files are UTF-8)"
    )
    (tmp_path / "pyproject.toml").write_text('[ tool . lockgraph ]\npolicy = "raise"\n')
    assert _config.load(start=str(deep)).policy == "raise"  # spaces in the header


@pytest.mark.parametrize("subset", [False, True])
def test_deeply_nested_arrays_are_one_error(
    tmp_path: Path, subset: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if subset:
        monkeypatch.setattr(_toml, "_tomllib", None)
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.lockgraph]\norder = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError, match=r"bad TOML: arrays .*nested") as info:
        _config.load(str(path))
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exit_status = 0", "setting 'exit_status' must be from 1 to 255, not 0"),
        ("exit_status = 256", "setting 'exit_status' must be from 1 to 255, not 256"),
        ("exit_status = -3", "setting 'exit_status' must be from 1 to 255, not -3"),
        ("exit_status = 1.5", "setting 'exit_status' must be a whole number from 1 to 255"),
        ("exit_status = false", "setting 'exit_status' must be a whole number from 1 to 255"),
        ("exit_status = '66'", "setting 'exit_status' must be a whole number from 1 to 255"),
        ("fail_on = 'sometimes'", "setting 'fail_on' must be one of reported, confirmed"),
        ("data_file = ''", "setting 'data_file' must be a non-empty string"),
        ('data_file = "a\\u0000b"', "setting 'data_file' must be a string without NUL"),
        ("format = ' '", "setting 'format' must be a non-empty string"),
        ("suppress = ['']", "setting 'suppress' must be a list of non-empty strings"),
        ("suppress = [1]", "setting 'suppress' must be a list of non-empty strings"),
        ("order = [['A']]", "setting 'order' must be a list of lock orders"),
        ("order = 'A'", "setting 'order' must be a list of lock orders"),
        ("policy = '" + "x" * 500 + "'", "... (502 characters)"),
        ("lockgraph = 5", "[lockgraph] must be a table, not 5"),
    ],
)
def test_odd_values_are_one_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lockgraph.toml"
    path.write_text(text + "\n")
    with pytest.raises(InputError) as info:
        _config.load(str(path))
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_unreadable_and_odd_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read configuration"):
        _config.load(str(tmp_path))  # a directory
    big = tmp_path / "lockgraph.toml"
    big.write_text("# " + "x" * (_config.MAX_CONFIG_BYTES + 10) + "\n")
    with pytest.raises(InputError, match="configuration larger than"):
        _config.load(str(big))
    big.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(InputError, match="bad TOML"):
        _config.load(str(big))


_toml_bits = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "=",
        '"',
        "'",
        '"""',
        "\n",
        "#",
        ",",
        ".",
        " ",
        "\\",
        "tool",
        "lockgraph",
        "policy",
        "order",
        "exit_status",
        "1",
        "-2",
        "true",
        "1979-05-27",
        "\xff",
    ]
)


@given(st.lists(_toml_bits, max_size=30))
def test_any_config_text_is_a_config_or_one_input_error(bits: list[str]) -> None:
    """Fuzz: whatever the file holds, loading it gives settings or an InputError (one
    line), through tomllib and through the subset."""
    text = "".join(bits)
    with tempfile.TemporaryDirectory() as d:
        for name, header in (("lockgraph.toml", ""), ("pyproject.toml", "[tool.lockgraph]\n")):
            path = Path(d) / name
            path.write_text(header + text, encoding="utf-8", errors="surrogateescape")
            for subset in (False, True):
                saved = _toml._tomllib
                if subset:
                    _toml._tomllib = None
                try:
                    _config.load(str(path))
                except InputError as exc:
                    assert "\n" not in str(exc)
                finally:
                    _toml._tomllib = saved
