"""Build lockgraph's optional C extensions; everything else is in pyproject.toml.

``optional=True``: where no C compiler (or no Python headers) is available the
install still succeeds, and lockgraph runs the pure-Python versions, with a warning:
the engine's replay (``lockgraph.engine.core``) and the runtime's lock core
(``lockgraph.runtime._pyfast``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lockgraph.engine._replay",
            ["src/lockgraph/engine/_replay.c"],
            optional=True,
        ),
        Extension(
            "lockgraph.runtime._cfast",
            ["src/lockgraph/runtime/_cfast.c"],
            optional=True,
        ),
    ]
)
