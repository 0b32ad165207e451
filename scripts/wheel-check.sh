#!/usr/bin/env bash
# Build lockgraph's sdist, then the wheel from that sdist (python -m build), install the
# wheel into a fresh venv in a temporary directory (no source tree on sys.path), and
# analyse a bundled example trace there: what `pip install lockgraph` gives a user.
set -euo pipefail
python=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m build --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
ls "$work"/dist/lockgraph-*.tar.gz > /dev/null
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/lockgraph-*.whl
cp "$root/examples/traces/bank.trace" "$work/bank.trace"
cd "$work"
status=0
"$work/venv/bin/lockgraph" analyze bank.trace > report.txt || status=$?
if [ "$status" -ne 1 ]; then
    echo "wheel-check: lockgraph analyze exited $status (expected 1: findings)" >&2
    cat report.txt >&2
    exit 1
fi
grep -q "circular" report.txt || { echo "wheel-check: no finding in the report" >&2; exit 1; }
"$work/venv/bin/python" -c "import lockgraph; assert 'site-packages' in lockgraph.__file__, lockgraph.__file__"
echo "wheel-check: the sdist builds a wheel that installs and analyses bank.trace outside the source tree"
