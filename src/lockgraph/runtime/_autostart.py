"""Imported by ``lockgraph-subprocess.pth`` in a child Python process when the
``LOCKGRAPH_SUBPROCESS`` environment variable is set: record into a parallel data
file in the run's directory, like the parent asked.

A child never fails because of lockgraph: a setting it cannot use is one line on
stderr and the child runs unrecorded. A child started after its run has finished
(the variable leaked into a later process, or a helper such as multiprocessing's
resource tracker outliving the run) finds the run's directory gone and records
nothing.
"""

from __future__ import annotations

import os
import sys


def _start() -> None:
    from lockgraph.errors import LockgraphError
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
    if not os.path.isdir(os.path.dirname(os.path.abspath(config.data_file))):
        return  # its run is over (or never was): nothing would collect the data
    config.parallel = True
    argv = getattr(sys, "argv", None) or [sys.executable]
    name = " ".join(argv).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        session = Session(config, sources=[name])
    except LockgraphError as exc:
        print(f"lockgraph: error: {exc} (this process is not recorded)", file=sys.stderr)
        return
    session.write_at_exit = True
    session.quiet_if_gone = True
    session.start()


_start()
