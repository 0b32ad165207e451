from __future__ import annotations

from conftest import ROOT, run_cli


def test_example_trace_reports_findings() -> None:
    result = run_cli("analyze", str(ROOT / "examples" / "traces" / "bank.trace"))
    assert result.returncode == 1, result.stderr
    assert "possible circular locking dependency detected" in result.stdout
