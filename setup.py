"""Builds lockgraph's optional C core; everything else is in pyproject.toml.

The extension is optional: without a compiler (or Python headers) the install
still succeeds and the runtime uses its pure-Python core, with a warning.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lockgraph.runtime._cfast",
            sources=["src/lockgraph/runtime/_cfast.c"],
            optional=True,
        )
    ]
)
