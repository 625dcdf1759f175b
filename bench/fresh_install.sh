#!/usr/bin/env bash
# A newcomer's two commands, timed on a fresh virtual environment: README's quick start (the
# tool alone, then the seed example) and its test command's install step (the test extras).
# Usage: bench/fresh_install.sh [WORKDIR]   (default: a new temporary directory; removed after)
# Prints the wall time of each step, the size of the environment after it, and the load average
# before and after (the machine may be shared). pip's cache is bypassed (--no-cache-dir) so that
# every wheel is read and unpacked as on a first install.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
trap 'rm -rf "$work/checkout" "$work/venv"' EXIT
mkdir -p "$work/checkout"
git -C "$here" archive HEAD | tar -x -C "$work/checkout"
cd "$work/checkout"
step() {  # step LABEL COMMAND...: run, then print its wall time and the venv's size
    local t0 t1
    t0=$(date +%s.%N)
    "${@:2}" >/dev/null
    t1=$(date +%s.%N)
    printf '%-34s %6.1f s   venv %s\n' "$1" "$(echo "$t1 - $t0" | bc)" \
        "$(du -sh "$work/venv" | cut -f1)"
}
python3 --version
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
step "python3 -m venv" python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
step "pip install -e ." pip install --no-cache-dir --quiet -e .
step "gradcalc (seed example, first run)" gradcalc "tax*(a*an+o*on)" \
    --at a=100,an=2,o=150,on=3,tax=1.1
step "pip install -e '.[test]'" pip install --no-cache-dir --quiet -e '.[test]'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
