"""Fuzzing the configuration loader (``lockgraph.runtime._config``): any file, found or
named, gives a configuration or one clean error."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzzing import fuzz, one_error
from hypothesis import given
from hypothesis import strategies as st

from lockgraph.runtime import _config

KEYS = st.sampled_from(
    [
        "policy",
        "data-file",
        "data_file",
        "parallel",
        "subprocess",
        "suppress",
        "order",
        "imports",
        "report",
        "format",
        "show-pruned",
        "fail",
        "source",
        "bogus",
        '"quoted"',
    ]
)
VALUES = st.sampled_from(
    [
        '"raise"',
        '"x"',
        "true",
        "false",
        "1",
        "1.5",
        "[]",
        '["a", "b"]',
        '[["a", "b"]]',
        "[1]",
        "{}",
        "{ a = 1 }",
        '"""multi\nline"""',
        "'lit'",
        '"\\u00e9"',
        '"\\q"',
        "",
        "[[",
        "nan",
        "1979-05-27",
        "0x1F",
        '"' + "x" * 200 + '"',
        "[" * 3 + "]" * 3,
    ]
)
LINE = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", KEYS, VALUES),
    st.sampled_from(["[tool.lockgraph]", "[lockgraph]", "[tool]", "[[tool.lockgraph]]", "#"]),
    st.sampled_from(["[tool.lockgraph.order]", "a.b = 1", "= 1", "[", "x = [", '"a" = 1']),
    st.text(max_size=12),
)


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    text = "\n".join(draw(st.lists(LINE, max_size=12)))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=6))
    return data


@fuzz(60)
@given(config_files(), st.sampled_from(["lockgraph.toml", "pyproject.toml", "setup.toml"]))
def test_config_file_is_a_config_or_one_error(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        one_error(lambda: _config.load(str(path)))
        one_error(lambda: _config.load(None, start=tmp))


@fuzz(100)
@given(st.text(max_size=60))
def test_subprocess_environment_is_a_config_or_one_error(text: str) -> None:
    one_error(lambda: _config.Config.from_env(text))
