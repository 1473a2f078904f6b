# Sourced by the shell tests: `check WHAT COMMAND...` counts and prints ok/FAIL, `finish` prints the count and
# returns the verdict; $tmp is a directory removed at exit; $PY a python3 that has h5py (empty when none has it).
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
finish() { echo "$((total - fails)) passed, $fails failed"; [[ $fails -eq 0 ]]; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PY=
for p in python3 /usr/bin/python3; do if "$p" -c "import h5py" 2> /dev/null; then PY=$p; break; fi; done
