"""Build the optional C accelerator; everything else is in pyproject.toml.

``optional=True``: where no C compiler is available the install still succeeds and
lockgraph runs its pure-Python engine (``lockgraph.engine.core``), with a warning.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lockgraph.engine._replay",
            ["src/lockgraph/engine/_replay.c"],
            optional=True,
        )
    ]
)
