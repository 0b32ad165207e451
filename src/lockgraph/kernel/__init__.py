"""Linux kernel sources: lockdep reports, ``/proc/lockdep*`` and lock tracepoints.

* ``splat``: lockdep reports read from console text, robustly, by stage (``scanner``,
  ``parser`` with its ``sections``, ``finish``; ``patterns``); ``model`` holds the
  structure (``Splat``), ``text`` the cleaning of quoted, prefixed and wrapped text,
  ``wording`` lockdep's sentences that the parser reads and ``render`` writes;
* ``signature`` and ``syzbot``: syzbot's titles, which group duplicate reports;
* ``classgraph``: the class graph of ``/proc`` files and reports, paths in it;
* ``limits`` and ``reading``: the bounds on untrusted input, and the input streams;
* ``explain``: a report rendered with what lockdep leaves to the reader;
* ``proc``: ``/proc/lockdep``, ``/proc/lockdep_chains`` (and the statistics files);
* ``tracepoints``: ``lock_acquire``/``lock_release``/... events from ftrace,
  ``trace-cmd report`` and ``perf script`` text, fed to the engine.
"""
