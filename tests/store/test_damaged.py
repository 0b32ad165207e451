"""Damaged data files: each crash the fuzzer (tests/fuzz/test_fuzz_store.py) found is
one clean error now, whatever command reads the file."""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import ROOT
from lockgraph.cli import main
from lockgraph.engine import Engine
from lockgraph.errors import DataError
from lockgraph.sources import read_traces
from lockgraph.store import load_run, save

BANK = ROOT / "examples" / "traces" / "bank.trace"
FIRST_CYCLE = "(SELECT MIN(ord) FROM findings WHERE kind = 'circular-dependency')"


@pytest.fixture(scope="module")
def bank_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "bank.lg"
    with contextlib.redirect_stdout(io.StringIO()):
        main(["analyze", str(BANK), "--data-file", str(path)])
    return path


def _damaged(bank_file: Path, tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "damaged.lg"
    shutil.copy(bank_file, path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(sql)
        db.commit()
    return path


def _fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lockgraph: error: Couldn't read data file")
    return err


@pytest.mark.parametrize(
    ("sql", "formats", "message"),
    [
        # was ValueError in inputs.py: int() of the meta's event count
        ("UPDATE meta SET value = '[]' WHERE key = 'events'", ["text"], "meta"),
        ("UPDATE meta SET value = '{' WHERE key = 'sources'", ["text"], "meta"),
        ("UPDATE meta SET value = '[1]' WHERE key = 'sources'", ["text"], "meta"),
        # was TypeError in html.py and dot.py: a lock class name that is a number
        (
            "UPDATE findings SET json = json_set(json, '$.classes[0].name', 5) "
            f"WHERE ord = {FIRST_CYCLE}",
            ["html", "text", "dot"],
            "wrong type",
        ),
        # was IndexError in text.py: a finding that names no class
        ("UPDATE findings SET json = json_set(json, '$.classes', json('[]'))", ["text"], "no lock"),
        # was AttributeError in store.py: witnesses that are not an object
        ("UPDATE edges SET witnesses = '5'", ["dot"], "damaged"),
        # was ValueError in graph.py (min() of nothing): type bits without witnesses
        ("UPDATE edges SET witnesses = '{}'", ["dot"], "disagree"),
        # was RecursionError: JSON nested 100,000 deep
        ("UPDATE edges SET instances = '" + "[" * 100_000 + "]" * 100_000 + "'", ["dot"], ""),
        ("UPDATE findings SET json = 'null'", ["json"], "not a JSON object"),
        ("UPDATE findings SET json = x'ff'", ["json"], "not JSON text"),
    ],
)
def test_damage_is_one_error(
    bank_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sql: str,
    formats: list[str],
    message: str,
) -> None:
    path = _damaged(bank_file, tmp_path, sql)
    for fmt in formats:
        err = _fails_cleanly(["report", str(path), "-f", fmt, "-o", str(tmp_path / "out")], capsys)
        assert message in err


def test_an_epoch_past_the_links_is_damage_not_a_hang(bank_file: Path, tmp_path: Path) -> None:
    # The happens-before search walks a task's epochs one by one: 2**63 of them never end.
    path = _damaged(bank_file, tmp_path, "UPDATE hb_epochs SET last_epoch = 9223372036854775807")
    with pytest.raises(DataError, match="happens-before epoch is out of range"):
        load_run(str(path))


def test_the_fuzzed_files_still_load_when_undamaged(bank_file: Path) -> None:
    run = load_run(str(bank_file))
    assert run.graph.edges and run.hb.after


def test_a_subclass_beyond_64_bits_is_one_error(tmp_path: Path) -> None:
    trace = tmp_path / "sub.trace"
    trace.write_text(
        "lockgraph-trace 1\nclass c C sub=9223372036854775808\nlock a c\nacq T1 a\nrel T1 a\n"
    )
    engine = Engine()
    read_traces(engine, [str(trace)])
    with pytest.raises(DataError, match=r"subclass 9223372036854775808, beyond 64 bits"):
        save(str(tmp_path / "sub.lg"), engine.finish(), [])
    assert not list(tmp_path.glob(".lockgraph-*"))  # no temporary file left behind


def test_a_name_that_was_not_utf8_renders_everywhere(
    bank_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # json.dumps escapes a lone surrogate (a file name read with surrogate escapes):
    # was UnicodeEncodeError in the text and SARIF reports
    sql = "UPDATE findings SET json = json_set(json, '$.classes[0].name', json('\"a\\udcffb\"'))"
    path = _damaged(bank_file, tmp_path, sql)
    for fmt in ("text", "sarif", "json", "html"):
        out = tmp_path / f"out.{fmt}"
        assert main(["report", str(path), "-f", fmt, "-o", str(out)]) in (0, 1)
        assert "a\ufffdb" in out.read_text(encoding="utf-8") or fmt == "json", fmt
    assert capsys.readouterr().err.count("Traceback") == 0
