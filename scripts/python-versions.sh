#!/usr/bin/env bash
# The runtime's tests (tests/runtime, which holds the corpus of Python programs) on the
# oldest and the newest Python this machine has: by default 3.10 and 3.13, each found
# with pyenv (or as pythonX.Y on the PATH). Each gets a venv of its own under
# build/python-versions/, with lockgraph installed from this checkout (not editable: the
# C extensions are built for that Python), and the tests run there with both cores
# (every runtime test is parametrised by core) on two xdist workers.
#
#   scripts/python-versions.sh                 # 3.10 and 3.13
#   PYTHON_VERSIONS="3.11 3.12" scripts/python-versions.sh
#   scripts/python-versions.sh -k corpus       # extra arguments go to pytest
#
# A version that is not here is skipped with the reason (and does not fail the run);
# the exit status is non-zero if any version's tests fail or cannot be set up.
set -uo pipefail
cd "$(dirname "$0")/.."

versions=${PYTHON_VERSIONS:-"3.10 3.13"}
venvs=${PYTHON_VERSIONS_VENVS:-build/python-versions}
workers=${PYTHON_VERSIONS_WORKERS:-2}

find_python() {  # the newest X.Y.* (not a free-threaded "t" build), or nothing
    local minor=$1 root candidate
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root)
        candidate=$(ls -d "$root/versions/$minor".* 2>/dev/null | grep -E "/$minor\.[0-9]+$" |
            sort -V | tail -n 1)
        if [ -n "$candidate" ] && [ -x "$candidate/bin/python$minor" ]; then
            echo "$candidate/bin/python$minor"
            return
        fi
    fi
    command -v "python$minor" 2>/dev/null || true
}

status=0
ran=0
for minor in $versions; do
    python=$(find_python "$minor")
    if [ -z "$python" ]; then
        echo "python-versions: SKIP $minor: no Python $minor here (neither pyenv nor python$minor)"
        continue
    fi
    echo "python-versions: $minor: $("$python" -c 'import sys; print(sys.version.split()[0])') ($python)"
    venv="$venvs/$minor"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { echo "python-versions: $minor: cannot create $venv"; status=1; continue; }
    fi
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        . pytest pytest-xdist hypothesis; then
        echo "python-versions: $minor: cannot install lockgraph and the test tools"
        status=1
        continue
    fi
    if ! "$venv/bin/python" -c 'import lockgraph.runtime._cfast, lockgraph.engine._replay'; then
        echo "python-versions: $minor: the C extensions were not built"
        status=1
        continue
    fi
    # -p no:cacheprovider: the venvs share this checkout; CI=1: a missing C core fails
    if CI=1 "$venv/bin/python" -m pytest tests/runtime -q -n "$workers" \
        -p no:cacheprovider "$@"; then
        echo "python-versions: $minor: passed"
    else
        echo "python-versions: $minor: FAILED"
        status=1
    fi
    ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
    echo "python-versions: no Python version ran"
fi
exit $status
