"""The report commands from the command line: data files, traces, errors, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, ROOT, run_cli
from lockgraph import inputs
from lockgraph.engine import Engine
from lockgraph.errors import UsageError
from lockgraph.inputs import InputKind, Loaded, load

BANK = ROOT / "examples" / "traces" / "bank.trace"
FILEMAP = ROOT / "examples" / "traces" / "filemap.trace"
ORDER = ROOT / "examples" / "orders" / "filemap.order"
TEXT_FORMATS = ["text", "json", "html", "dot", "sarif", "chart"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "filemap.lockgraph"
    result = run_cli("analyze", "--data-file", str(path), str(FILEMAP))
    assert result.returncode == 1, result.stderr
    return path


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_report_from_a_data_file_equals_report_from_the_trace(
    fmt: str, data_file: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "from-data", tmp_path / "from-trace"
    ra = run_cli("report", "-f", fmt, "-o", str(a), str(data_file))
    rb = run_cli("report", "-f", fmt, "-o", str(b), str(FILEMAP))
    status = 0 if fmt == "chart" else 1  # a chart is not a finding report
    assert ra.returncode == rb.returncode == status, ra.stderr + rb.stderr
    expected = b.read_text()
    actual = a.read_text()
    # the data file records the trace's path as the source, the same one here
    assert actual == expected


def test_report_to_stdout_from_several_traces() -> None:
    result = run_cli("report", "-f", "json", str(BANK), str(FILEMAP))
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sources"] == [str(BANK), str(FILEMAP)]
    assert doc["summary"]["findings"] == 4


def test_report_from_stdin() -> None:
    result = run_cli("report", "-f", "chart", "-", stdin=FILEMAP.read_text())
    assert result.returncode == 0, result.stderr  # a chart, as 'lockgraph chart': exit 0
    assert result.stdout.startswith("->&inode->i_rwsem\n")


def test_analyze_takes_the_new_formats() -> None:
    result = run_cli("analyze", "-f", "sarif", str(BANK))
    assert result.returncode == 1
    assert json.loads(result.stdout)["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "-f", "pdf", str(BANK)], "unknown report format 'pdf'"),
        (["report", "nonexistent.trace"], "nonexistent.trace: cannot open: no such file"),
        (["report", str(ROOT / "README.md")], "README.md:1: neither a lockgraph data file"),
        (["report", "-i", "xml", str(BANK)], "unknown input format 'xml'"),
        (["report", "-f", "html", "--finding", "zzz", str(BANK)], "no finding 'zzz'"),
        (["report", "--depth", "-1", "-f", "dot", str(BANK)], "--depth must be 0 or more"),
        (["chart", "nonexistent.trace"], "nonexistent.trace: cannot open"),
        (["check-order", "--declared", "missing.order", str(BANK)], "missing.order: cannot open"),
    ],
)
def test_errors_are_one_line(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_trace_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trace"
    bad.write_text("lockgraph-trace 1\nacq t1 a\nfrobnicate x\n")
    result = run_cli("report", "-f", "html", "-o", str(tmp_path / "out.html"), str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"lockgraph: error: {bad}:3: unknown record 'frobnicate'"
    assert not (tmp_path / "out.html").exists()
    kept = run_cli("report", "--keep-going", "-f", "json", str(bad))
    assert kept.returncode in (0, 1) and "1 malformed line skipped" in kept.stderr


def test_several_data_files_are_refused(data_file: Path) -> None:
    result = run_cli("report", str(data_file), str(data_file))
    assert result.returncode == 2 and "lockgraph combine" in result.stderr


def test_damaged_data_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lockgraph"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    result = run_cli("report", "-f", "chart", str(bad))
    assert result.returncode == 2 and "Couldn't read data file" in result.stderr


# -- chart ----------------------------------------------------------------------------


def test_chart_command(data_file: Path) -> None:
    result = run_cli("chart", "--sites", str(data_file))
    assert result.returncode == 0, result.stderr
    assert "->&inode->i_rwsem\n  ->&mm->mmap_lock" in result.stdout
    assert "(mm/gup.c:2210 in fault_in_readable, write)" in result.stdout
    assert "2 on cycles left out" in result.stderr


def test_chart_as_a_comment_reads_back(tmp_path: Path) -> None:
    result = run_cli("chart", "--comment", "-o", str(tmp_path / "order.c"), str(FILEMAP))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "order.c").read_text()
    assert text.startswith("/*\n * Lock ordering (lockgraph chart):\n")
    check = run_cli("check-order", "--declared", str(tmp_path / "order.c"), str(FILEMAP))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "lockgraph: no findings" in check.stdout


# -- check-order ------------------------------------------------------------------------


def test_check_order_example() -> None:
    result = run_cli("check-order", "--declared", str(ORDER), str(FILEMAP))
    assert result.returncode == 1
    assert "1 order-violation, 3 stale-order" in result.stdout
    assert "ext4_iomap_begin" in result.stdout


def test_check_order_exit_status(tmp_path: Path) -> None:
    agreeing = tmp_path / "agree.order"
    agreeing.write_text("->i_rwsem\n  ->mmap_lock\n\n->ptlock_ptr(page)\n  ->lanes_lock\n")
    result = run_cli("check-order", "--declared", str(agreeing), str(FILEMAP))
    assert result.returncode == 0, result.stdout
    assert "1 stale-order" in result.stdout
    strict = run_cli("check-order", "--strict", "--declared", str(agreeing), str(FILEMAP))
    assert strict.returncode == 1


def test_check_order_from_a_source_comment(tmp_path: Path) -> None:
    source = tmp_path / "filemap.c"
    source.write_text(
        "/*\n * Lock ordering:\n *\n *  ->invalidate_lock\t\t(truncate)\n"
        " *    ->i_mmap_rwsem\n */\nint x;\n"
    )
    result = run_cli("check-order", "-f", "json", "--declared", str(source), str(FILEMAP))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert [f["kind"] for f in doc["findings"]] == ["order-violation"]


def test_check_order_cyclic_declaration(tmp_path: Path) -> None:
    order = tmp_path / "cyclic.order"
    order.write_text("->a\n  ->b\n\n->b\n  ->a\n")
    result = run_cli("check-order", "--declared", str(order), str(FILEMAP))
    assert result.returncode == 2
    assert f"{order}:2: the declared order is a cycle" in result.stderr


# -- the input hook -----------------------------------------------------------------------


def test_a_registered_input_kind_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """How a scenario source plugs in: a sniffer and a loader, no change to the commands."""
    scenario = tmp_path / "model.scenario"
    scenario.write_text("scenario 1\n")
    calls: list[list[str]] = []

    def load_scenario(paths: list[str]) -> Loaded:
        calls.append(paths)
        engine = Engine()
        task = engine.task("t")
        a = engine.use(engine.lock("a", engine.lock_class("A")))
        b = engine.use(engine.lock("b", engine.lock_class("B")))
        engine.acquire(task, a)
        engine.acquire(task, b)
        return Loaded.of_run(engine.finish(end_of_trace=False), paths)

    kind = InputKind("scenario", lambda path, head: head.startswith(b"scenario "), load_scenario)
    monkeypatch.setattr(inputs, "_KINDS", [])
    inputs.register(kind)
    loaded = load([str(scenario)])
    assert calls == [[str(scenario)]]
    assert loaded.run().graph.find_class("B") is not None
    assert "scenario" in inputs.input_formats()
    # a trace is still a trace
    assert load([str(BANK)]).findings


def test_plugin_modules_register_their_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fakeplugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from lockgraph.inputs import InputKind\n"
        "def input_kinds():\n"
        "    return [InputKind('fake', lambda p, h: False, lambda paths: None)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(inputs, "PLUGIN_MODULES", ("fakeplugin", "lockgraph_not_installed"))
    monkeypatch.setattr(inputs, "_KINDS", [])
    monkeypatch.setattr(inputs, "_PLUGINS_LOADED", [])
    assert [k.name for k in inputs.kinds()] == ["fake"]


def test_nothing_to_read() -> None:
    with pytest.raises(UsageError):
        load([])


def test_data_dir_is_there() -> None:
    assert (DATA / "reports" / "hostile.trace").exists()
