"""Imported by ``lockgraph-subprocess.pth`` in a child Python process when the
``LOCKGRAPH_SUBPROCESS`` environment variable is set: record into a parallel data
file, like the parent asked."""

from __future__ import annotations

import os
import sys


def _start() -> None:
    from lockgraph.runtime._config import ENV_VAR, Config
    from lockgraph.runtime._session import Session, current

    text = os.environ.get(ENV_VAR, "")
    if not text or current() is not None:
        return
    try:
        config = Config.from_env(text)
    except Exception as exc:
        print(f"lockgraph: ignoring {ENV_VAR}: {exc}", file=sys.stderr)
        return
    config.parallel = True
    session = Session(config, sources=[" ".join(sys.argv) or sys.executable])
    session.write_at_exit = True
    session.start()


_start()
