# lockgraph's developer commands. `make demo` and `make test` set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
C_SOURCES := src/lockgraph/runtime/_cfast.c src/lockgraph/engine/_replay.c
# pytest's workers: both cores of a 2-core machine (pytest-xdist); JOBS=0 runs serially.
JOBS ?= auto

.PHONY: setup setup-run system-packages demo test lint typecheck unit wheel-check bench bench-bounded bench-scenario stdlib-suites bench-kernel clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { echo "make: '$(PYTHON) -m venv' failed: install Python's venv module (Debian: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

# What lockgraph needs to run, and nothing else (make demo).
$(RUN_STAMP): pyproject.toml setup.py $(C_SOURCES) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

# The test toolchain too (make test): pytest, hypothesis, mypy, ruff, playwright...
$(STAMP): pyproject.toml setup.py $(C_SOURCES) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

setup-run: $(RUN_STAMP)

setup: $(STAMP)

# Debian packages the report tests use: Graphviz's dot and a headless Chromium.
# Idempotent; without root it says what to install and the tests that need them skip.
system-packages:
	bash scripts/install-system-packages.sh

# Analyse the bundled example trace (exit status 1 means "findings", as expected here).
demo: setup-run
	$(BIN)/lockgraph analyze examples/traces/bank.trace || [ $$? -eq 1 ]

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

unit: setup system-packages
	$(BIN)/python -m pytest -n $(JOBS)

# The package as users get it: build the sdist and the wheel, install the wheel into a
# fresh venv outside the source tree, and analyse an example there.
wheel-check: setup
	bash scripts/wheel-check.sh $(BIN)/python

# The whole suite: what CI runs (.ci/run).
test: lint typecheck unit

bench: setup system-packages
	$(BIN)/python benchmarks/analyze_throughput.py
	$(BIN)/python benchmarks/bounded.py
	$(BIN)/python benchmarks/html_report.py --browser --data-file
	$(BIN)/python benchmarks/scenario_explore.py
	$(BIN)/python benchmarks/runtime_overhead.py

# Cycle search and memory that do not grow with the graph or with nesting (docs/performance.md).
bench-bounded: setup
	$(BIN)/python benchmarks/bounded.py

# Scenario explorer: CPU time per seed example, partial-order reduction (docs/performance.md).
bench-scenario: setup
	$(BIN)/python benchmarks/scenario_explore.py

# The kernel readers: dmesg scanning MB/s and lock tracepoint events/s (docs/performance.md).
bench-kernel: setup
	$(BIN)/python benchmarks/kernel_parse.py

# The standard library's lock-heavy test suites under lockgraph run (docs/python.md).
# This Python's own suites, then the system Python's test_concurrent_futures (some
# Python builds ship no test_concurrent_futures; Debian's test suite package has it).
stdlib-suites: setup
	$(BIN)/python benchmarks/stdlib_suites.py
	bash benchmarks/install_stdlib_tests.sh /usr/bin/python3 && \
	  $(BIN)/python benchmarks/stdlib_suites.py --python /usr/bin/python3 test_concurrent_futures

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
