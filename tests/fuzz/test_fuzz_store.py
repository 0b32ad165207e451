"""Fuzzing the data-file loader: damaged cells, rows and bytes give one clean error
(exit 2) or a report, whatever command reads the file."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fuzzing import cli, fuzz
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT
from lockgraph.cli import main

TRACES = [
    ROOT / "examples" / "traces" / "bank.trace",
    ROOT / "tests" / "data" / "traces" / "event_findings.trace",
    ROOT / "tests" / "data" / "traces" / "signal_closes.trace",
]
COMMANDS = [
    ["report"],
    ["report", "-f", "json"],
    ["report", "-f", "html"],
    ["report", "-f", "sarif"],
    ["report", "-f", "dot"],
    ["report", "-f", "dot", "--class", "Account.lock", "--depth", "3"],
    ["chart"],
    ["chart", "--sites"],
]

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=4),
        st.just("\udcff"),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
CELL_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.sampled_from(["[]", "{}", "[[[[", "null", "1e999", '"x"', "[" * 5000 + "]" * 5000]),
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("seeds")
    paths = []
    for i, trace in enumerate(TRACES):
        path = base / f"seed{i}.lg"
        with contextlib.redirect_stdout(io.StringIO()):
            main(["analyze", str(trace), "--data-file", str(path)])
        paths.append(path)
    return paths


def _mutate_json(value: Any, data: st.DataObject) -> Any:
    """``value`` with one place inside it replaced or removed."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 4)):
        key = data.draw(st.sampled_from(sorted(value)))
        if data.draw(st.integers(0, 5)) == 0:
            del value[key]
        else:
            value[key] = _mutate_json(value[key], data)
        return value
    if isinstance(value, list) and value and data.draw(st.integers(0, 4)):
        i = data.draw(st.integers(0, len(value) - 1))
        if data.draw(st.integers(0, 5)) == 0:
            del value[i]
        else:
            value[i] = _mutate_json(value[i], data)
        return value
    return data.draw(JSON_VALUES)


def damage(path: Path, data: st.DataObject) -> None:
    """Change a few cells of a data file (JSON inside them most often), or rows."""
    db = sqlite3.connect(path)
    db.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for _ in range(data.draw(st.integers(1, 3))):
            table = data.draw(st.sampled_from(sorted(tables)))
            rows = db.execute(f"SELECT rowid, * FROM {table}").fetchall()
            if not rows:
                continue
            row = data.draw(st.sampled_from(rows))
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            column = data.draw(st.integers(0, len(columns) - 1))
            old = row[column + 1]
            action = data.draw(st.sampled_from(["json", "cell", "delete", "not utf-8"]))
            if action == "delete":
                db.execute(f"DELETE FROM {table} WHERE rowid = ?", (row[0],))
                continue
            if action == "json" and isinstance(old, str) and old.startswith(("[", "{")):
                new: Any = json.dumps(_mutate_json(json.loads(old), data))
            elif action == "not utf-8":
                new = (str(old).encode() + b"\xff\xfe").decode("latin-1")
                new = sqlite3.Binary(new.encode("latin-1"))
                sql = f"UPDATE {table} SET {columns[column]} = CAST(? AS TEXT) WHERE rowid = ?"
                with contextlib.suppress(sqlite3.Error):
                    db.execute(sql, (new, row[0]))
                continue
            else:
                new = data.draw(CELL_VALUES)
            sql = f"UPDATE {table} SET {columns[column]} = ? WHERE rowid = ?"
            with contextlib.suppress(sqlite3.Error):
                db.execute(sql, (new, row[0]))
        db.commit()
    finally:
        db.close()


@fuzz(25, shrink=False)
@given(st.data())
def test_damaged_data_file_is_one_error(seeds: list[Path], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.lg"
        shutil.copy(data.draw(st.sampled_from(seeds)), path)
        damage(path, data)
        command = data.draw(st.sampled_from(COMMANDS))
        cli([*command, str(path), "-o", str(Path(tmp) / "out")])


@fuzz(15, shrink=False)
@given(st.data())
def test_data_file_bytes_damaged(seeds: list[Path], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.lg"
        raw = bytearray(data.draw(st.sampled_from(seeds)).read_bytes())
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            del raw[data.draw(st.integers(100, len(raw))) :]
        path.write_bytes(bytes(raw))
        cli(["report", str(path), "-f", data.draw(st.sampled_from(["text", "json"]))])
