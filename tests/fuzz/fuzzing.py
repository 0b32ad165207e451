"""What the fuzz tests share: their hypothesis profile and the "one clean error" check.

The suite runs each fuzz test briefly (``SHORT`` examples, the whole directory in
about ten seconds); ``make fuzz`` (``benchmarks/fuzz.py``) runs them long by setting
``LOCKGRAPH_FUZZ_EXAMPLES``. A crash found becomes a regression test beside the
module it broke (``tests/sources``, ``tests/store``, ...).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from lockgraph.cli import main
from lockgraph.errors import LockgraphError

LONG = int(os.environ.get("LOCKGRAPH_FUZZ_EXAMPLES", "0") or 0)


def fuzz(short: int, shrink: bool = True) -> settings:
    """Settings for a fuzz test: ``short`` examples in the suite, many under ``make fuzz``.

    ``shrink=False`` for tests whose every example runs a whole command: shrinking
    their failures can take many minutes (the failing example is printed anyway)."""
    phases = list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink]
    return settings(
        max_examples=LONG or short,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=phases,
    )


def one_error(fn: Callable[[], Any]) -> LockgraphError | None:
    """Run ``fn``: it may succeed or raise one of lockgraph's errors, whose message
    must be one short line. Any other exception is the bug the fuzzer looks for."""
    try:
        fn()
    except LockgraphError as exc:
        check_message(str(exc))
        return exc
    return None


def check_message(text: str) -> None:
    assert "\n" not in text, text[:300]
    assert len(text) < 1500, text[:300]


def cli(argv: Sequence[str]) -> tuple[int, str]:
    """``lockgraph ARGV`` in this process: (exit status, standard error). An exception
    other than lockgraph's own escapes, and fails the test with its traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    assert status in (0, 1, 2), status
    if status == 2:
        lines = [x for x in err.getvalue().splitlines() if x.startswith("lockgraph: error:")]
        assert len(lines) == 1, err.getvalue()[:500]
        check_message(lines[0])
    return status, err.getvalue()
