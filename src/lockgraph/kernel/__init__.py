"""Linux kernel sources: lockdep reports, ``/proc/lockdep*`` and lock tracepoints.

* ``splat``: lockdep reports read from console text, robustly (``model`` holds the
  structure, ``text`` the cleaning of quoted, prefixed and wrapped text);
* ``signature``: syzbot-style titles that group duplicate reports;
* ``explain``: a report rendered with what lockdep leaves to the reader;
* ``proc``: ``/proc/lockdep``, ``/proc/lockdep_chains`` (and the statistics files);
* ``tracepoints``: ``lock_acquire``/``lock_release``/... events from ftrace,
  ``trace-cmd report`` and ``perf script`` text, fed to the engine.
"""
