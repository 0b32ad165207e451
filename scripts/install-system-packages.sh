#!/usr/bin/env bash
# Installs the Debian packages that lockgraph's report tests use:
#   graphviz  - the `dot` program (DOT -> SVG/PNG)
#   chromium  - the headless browser the HTML report is tested in
# Idempotent: does nothing when both programs are already there. Without root (or
# apt-get) it says so and exits 0: the tests that need a missing program then skip
# with that reason.
set -euo pipefail

need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Chromium renders text with whatever fonts are installed; these make screenshots legible.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-packages: no apt-get here; install ${need[*]} yourself" >&2
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "install-system-packages: not root; install ${need[*]} yourself" >&2
        exit 0
    fi
fi

echo "install-system-packages: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
