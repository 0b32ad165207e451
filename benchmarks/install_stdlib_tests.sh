#!/usr/bin/env bash
# Installs Debian's test suite of the system Python (libpython3.X-testsuite) when the
# system Python lacks test_concurrent_futures: benchmarks/stdlib_suites.py --python
# /usr/bin/python3 then runs the stdlib suites there too. Needs root and apt.
set -euo pipefail
py=${1:-/usr/bin/python3}
if "$py" -c "import test.test_concurrent_futures" 2>/dev/null; then
    exit 0
fi
version=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "install libpython${version}-testsuite to run the stdlib suites with $py" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libpython${version}-testsuite" >/dev/null
