"""lockgraph's runtime for Python programs: lock instrumentation feeding the engine.

Runs inside the user's process, so it uses the standard library only. The public
API is ``lockgraph.enable()`` and its siblings (``_api``); ``lockgraph run``, the
subprocess hook (``_autostart``) and the pytest plugin drive a ``_session.Session``.
"""
