"""lockgraph's pytest plugin: ``pytest --lockgraph``.

One lock dependency graph for the whole session (that is how an ABBA split over
two tests is found), findings attributed to the tests whose dependencies make
them, pytest-xdist workers merged at the end, and the session failing on findings
unless ``lockgraph_fail = false``. Every option has an ini setting of the same
name (``--lockgraph-policy`` / ``lockgraph_policy``). A bad option or setting (on
the command line, in the ini file or in ``[tool.lockgraph]``) is a pytest usage
error: one line, exit status 4.

Loaded in every pytest run through the ``pytest11`` entry point: it imports nothing
of the runtime until ``--lockgraph`` (or ``lockgraph = true``) turns it on.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lockgraph.engine import Finding, Run
    from lockgraph.runtime._session import Session

_MANAGER = "lockgraph-manager"

_OPTIONS = [
    # (option, ini name, type, default, help)
    ("--lockgraph-policy", "lockgraph_policy", "string", "", "report (default), warn or raise"),
    ("--lockgraph-data-file", "lockgraph_data_file", "string", "", "data file (.lockgraph)"),
    ("--lockgraph-format", "lockgraph_format", "string", "", "report format (text)"),
    (
        "--lockgraph-fail-on",
        "lockgraph_fail_on",
        "string",
        "",
        "the findings that fail the session: reported (default) or confirmed",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lockgraph", "lock dependency validation (lockgraph)")
    group.addoption(
        "--lockgraph",
        action="store_true",
        default=None,
        help="record every lock dependency of the session and report potential deadlocks",
    )
    parser.addini("lockgraph", "enable lockgraph (like --lockgraph)", type="bool", default=False)
    for option, ini, _, default, text in _OPTIONS:
        group.addoption(option, default=None, help=f"lockgraph: {text}")
        parser.addini(ini, f"lockgraph: {text}", default=default)
    group.addoption(
        "--lockgraph-suppress",
        action="append",
        default=[],
        metavar="PATTERN",
        help="lockgraph: suppress findings (class:GLOB, site:GLOB, kind:KIND, id:ID)",
    )
    parser.addini("lockgraph_suppress", "lockgraph: suppression patterns", type="linelist")
    group.addoption(
        "--lockgraph-no-fail",
        action="store_true",
        default=None,
        help="lockgraph: report findings without failing the session",
    )
    parser.addini(
        "lockgraph_fail", "lockgraph: fail the session on findings", type="bool", default=True
    )
    group.addoption(
        "--lockgraph-show-pruned", action="store_true", default=None, help="lockgraph: list pruned"
    )
    parser.addini("lockgraph_show_pruned", "lockgraph: list pruned", type="bool", default=False)
    group.addoption(
        "--lockgraph-imports",
        action="store_true",
        default=None,
        help="lockgraph: also record the import system's module locks",
    )
    parser.addini(
        "lockgraph_imports", "lockgraph: record module import locks", type="bool", default=False
    )
    group.addoption(
        "--lockgraph-full-stacks",
        action="store_true",
        default=None,
        help="lockgraph: keep every frame in stacks (pytest's and the library's too)",
    )
    parser.addini(
        "lockgraph_full_stacks", "lockgraph: keep every frame", type="bool", default=False
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lockgraph_skip: record no lock events while this test runs")
    config.addinivalue_line(
        "markers",
        "lockgraph_expect(*kinds): this test is meant to produce lockgraph findings (of these "
        "kinds); it fails if it does not, and they do not fail the session",
    )
    enabled = config.getoption("lockgraph") or _ini(config, "lockgraph")
    if enabled and not config.pluginmanager.has_plugin(_MANAGER):
        from lockgraph.errors import LockgraphError

        try:
            manager = Manager(config)
        except LockgraphError as exc:
            raise pytest.UsageError(f"lockgraph: {exc}") from None
        config.pluginmanager.register(manager, _MANAGER)


def _ini(config: pytest.Config, name: str) -> Any:
    """An ini setting; a value pytest cannot read (``lockgraph_fail = maybe``) is a
    usage error naming it."""
    try:
        return config.getini(name)
    except ValueError as exc:
        raise pytest.UsageError(f"lockgraph: ini setting {name}: {exc}") from None


def _settings(config: pytest.Config) -> Any:
    from lockgraph.runtime import _config

    settings = _config.load()
    overrides: dict[str, Any] = {}
    for option, ini, _, _, _ in _OPTIONS:
        value = config.getoption(option.lstrip("-").replace("-", "_"))
        if value is None:
            value = _ini(config, ini) or None  # an empty ini setting is no setting
        if value is not None:
            overrides[ini[len("lockgraph_") :]] = value
    if config.getoption("lockgraph_no_fail") or not _ini(config, "lockgraph_fail"):
        overrides["fail"] = False
    if config.getoption("lockgraph_show_pruned") or _ini(config, "lockgraph_show_pruned"):
        overrides["show_pruned"] = True
    if config.getoption("lockgraph_imports") or _ini(config, "lockgraph_imports"):
        overrides["imports"] = True
    if config.getoption("lockgraph_full_stacks") or _ini(config, "lockgraph_full_stacks"):
        overrides["full_stacks"] = True
    suppress = list(_ini(config, "lockgraph_suppress") or [])
    suppress += list(config.getoption("lockgraph_suppress") or [])
    if suppress:
        overrides["suppress"] = settings.suppress + suppress
    settings.update(overrides, "pytest options")
    return settings


class Manager:
    """The plugin object registered when lockgraph is on."""

    def __init__(self, config: pytest.Config) -> None:
        from lockgraph.report import renderer

        self.config = config
        self.settings = _settings(config)
        renderer(self.settings.format)  # a bad format: a usage error now, not at the end
        if os.path.isdir(self.settings.data_file):
            from lockgraph.errors import UsageError

            raise UsageError(f"the data file {self.settings.data_file!r} is a directory")
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.controller = self.workerinput is None and (
            getattr(config.option, "dist", "no") not in (None, "no")
            or bool(getattr(config.option, "numprocesses", None))
        )
        self.token = f"{socket.gethostname()}-pytest{random.randint(0, 999999):06d}"
        self.session: Session | None = None
        self.expected: dict[str, list[str]] = {}
        self.findings: list[Finding] = []
        self.reported: list[Finding] = []
        self.failing: list[Finding] = []
        self.tests_of: dict[str, list[str]] = {}
        self.data_file = os.path.abspath(self.settings.data_file)
        if not self.controller:
            from lockgraph.runtime._session import Session

            self.session = Session(self.settings, sources=["pytest"])
            self.session.start()

    # -- xdist ------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["lockgraph_token"] = self.token

    # -- per test ---------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Iterator[None]:
        session = self.session
        if session is None:
            yield
            return
        marker = item.get_closest_marker("lockgraph_expect")
        if marker is not None:
            self.expected[item.nodeid] = [str(k) for k in marker.args]
        skip = item.get_closest_marker("lockgraph_skip") is not None
        session.recorder.mark(item.nodeid, own_task=True)
        if skip:
            session.core.set_active(False)
        try:
            yield
        finally:
            if skip and session.active:
                session.core.set_active(True)
            session.recorder.mark("", own_task=True)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Iterator[Any]:
        outcome: Any = yield
        if call.when != "call" or item.nodeid not in self.expected or self.session is None:
            return
        report = outcome.get_result()
        if not report.passed:
            return
        kinds = self.expected[item.nodeid]
        mine = self.test_findings(item.nodeid)
        if not any(not kinds or f.kind in kinds for f in mine):
            report.outcome = "failed"
            want = ", ".join(kinds) if kinds else "any kind"
            report.longrepr = (
                f"lockgraph: this test is marked lockgraph_expect({want}) but produced no "
                f"such finding (it produced: {', '.join(f.kind for f in mine) or 'none'})"
            )

    def test_findings(self, nodeid: str) -> list[Finding]:
        """The findings (not pruned) so far that this test contributed to."""
        assert self.session is not None
        run, findings = self.session.finish()
        attribution = attribution_of(run, self.session.recorder.label_of)
        return [f for f in findings if f.reported and nodeid in tests_of(f, attribution)]

    # -- the end ------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            self._finish(session)
        except Exception as exc:  # a broken data file must not hide the test results
            self.error = f"lockgraph: error: {exc}"
            return
        self.error = ""
        if self.failing and self.settings.fail and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _finish(self, session: pytest.Session) -> None:
        from lockgraph import store
        from lockgraph.combine import combine, parallel_files

        if self.workerinput is not None:
            assert self.session is not None
            run, _ = self.session.finish()
            self.session.stop()
            token = self.workerinput.get("lockgraph_token", self.token)
            path = f"{self.data_file}.{token}.{os.getpid()}.{random.randint(0, 999999):06d}"
            meta = {
                "attribution": json.dumps(attribution_of(run, self.session.recorder.label_of)),
                "expected": json.dumps(self.expected),
            }
            self.session.save(path, meta)
            return
        if self.controller:
            paths = [p for p in parallel_files(self.data_file) if f".{self.token}." in p]
            attribution: dict[str, list[str]] = {}
            for path in paths:
                meta = store.read_meta(path)
                for key, tests in json.loads(meta.get("attribution", "{}")).items():
                    attribution.setdefault(key, []).extend(tests)
                self.expected.update(json.loads(meta.get("expected", "{}")))
            if not paths:
                return
            run, findings, _ = combine(self.data_file, paths, suppress=self.settings.suppress)
        else:
            assert self.session is not None
            run, findings = self.session.finish()
            self.session.stop()
            attribution = attribution_of(run, self.session.recorder.label_of)
        self.findings = findings
        for f in findings:
            tests = tests_of(f, attribution)
            self.tests_of[f.id] = tests
            if tests:
                f.notes.append("produced by tests: " + ", ".join(tests))
        self.reported = [f for f in findings if f.reported and not self._expected(f)]
        self.failing = failing(self.reported, self.settings.fail_on)
        if not self.controller:
            assert self.session is not None
            self.session.finished = (run, findings)
            self.session.save(self.data_file)

    def _expected(self, f: Finding) -> bool:
        for test in self.tests_of.get(f.id, []):
            kinds = self.expected.get(test)
            if kinds is not None and (not kinds or f.kind in kinds):
                return True
        return False

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.workerinput is not None:
            return
        from lockgraph.report import Report, renderer

        tr = terminalreporter
        tr.write_sep("=", "lockgraph")
        if getattr(self, "error", ""):
            tr.write_line(self.error)
            return
        shown = [f for f in self.findings if not self._expected(f)]
        report = Report(shown, self.settings.show_pruned)
        if report.shown:
            import io

            buf = io.StringIO()
            renderer(self.settings.format)(report, buf)
            tr.write(buf.getvalue())
        expected = len(self.findings) - len(shown)
        line = f"lockgraph: {len(self.reported)} finding{'s' if len(self.reported) != 1 else ''}"
        if expected:
            line += f" ({expected} expected by lockgraph_expect tests)"
        line += f"; data file {self.data_file}"
        if self.settings.fail_on != "reported":
            line += f" ({len(self.failing)} {self.settings.fail_on})"
        if self.failing and self.settings.fail:
            line += " (the session fails: lockgraph_fail = false to only report)"
        tr.write_line(line)


def failing(findings: list[Finding], fail_on: str) -> list[Finding]:
    from lockgraph.engine.findings import failing as select

    return select(findings, fail_on)


def attribution_of(run: Run, label_of: Any) -> dict[str, list[str]]:
    """Which tests made each dependency and each event finding (by their events)."""
    out: dict[str, list[str]] = {}
    for edge in run.graph.edges.values():
        tests = sorted({label_of(w.event) for w in edge.witnesses.values()} - {""})
        if tests:
            out[f"{edge.src.key}\t{edge.dst.key}"] = tests
    for f in run.event_findings:
        test = label_of(f.event)
        if test:
            out["\t".join([f.kind, *f.key])] = [test]
    return out


def tests_of(f: Finding, attribution: dict[str, list[str]]) -> list[str]:
    keys = [f"{d.source}\t{d.target}" for d in f.dependencies]
    keys.append("\t".join([f.kind, *f.key]))
    return sorted({t for k in keys for t in attribution.get(k, [])})


class LockgraphFixture:
    """What the ``lockgraph`` fixture gives a test."""

    def __init__(self, manager: Manager, nodeid: str) -> None:
        self._manager = manager
        self._nodeid = nodeid

    def findings(self) -> list[Finding]:
        """The findings (not pruned) this test has contributed to so far."""
        return self._manager.test_findings(self._nodeid)

    def all_findings(self) -> list[Finding]:
        """Every finding of the session so far, pruned ones included."""
        assert self._manager.session is not None
        return self._manager.session.finish()[1]


@pytest.fixture
def lockgraph(request: pytest.FixtureRequest) -> LockgraphFixture:
    """Inspect lockgraph's findings from a test (needs ``--lockgraph``)."""
    manager = request.config.pluginmanager.get_plugin(_MANAGER)
    if manager is None or manager.session is None:
        pytest.skip("lockgraph is not enabled (run pytest with --lockgraph)")
    return LockgraphFixture(manager, request.node.nodeid)
