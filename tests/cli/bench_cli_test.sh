#!/bin/bash
# `collemu bench solver` end to end on a small fat-tree: the instance's size follows k, the certificate holds, and
# bad options are refused. $COLLEMU is the binary under test.
set -u
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
out=$("$COLLEMU" bench solver --fat-tree-k 4 --to-completion --json)
# k = 4: 16 hosts, 16 x 15 = 240 flows; every path has 2, 4 or 6 links; the all-to-all finishes in one run.
check "k=4 instance, certificate, completion" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["flows"] == 240, j["flows"]
assert 2 * 240 <= j["entries"] <= 6 * 240
assert j["max_min_certificate"] == "ok"
assert j["to_completion_solves"] >= 1 and j["to_completion_s"] >= 0
' "$out"
check "cpu-rounds agrees on the number of distinct rates" bash -c '
a=$("$COLLEMU" bench solver --fat-tree-k 6 --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"distinct_rates\"])")
b=$("$COLLEMU" bench solver --fat-tree-k 6 --solver cpu-rounds --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"distinct_rates\"])")
[[ -n $a && $a == "$b" ]]'
check "odd k is refused" bash -c '"$COLLEMU" bench solver --fat-tree-k 5 2>&1 | grep -q "even k"'
check "a k too large for memory is refused" bash -c '"$COLLEMU" bench solver --fat-tree-k 64 2>&1 | grep -q "from 2 to 24"'
check "unknown backend is refused" bash -c '"$COLLEMU" bench solver --solver gpu 2>&1 | grep -q "unknown rate solver"'
# cuda: where a GPU is present the certificate must hold; elsewhere a one-line reason, exit 1, never a crash.
check "cuda runs or says why not" bash -c '
out=$("$COLLEMU" bench solver --fat-tree-k 4 --solver cuda --json 2>&1); rc=$?
if [[ $rc -eq 0 ]]; then grep -q "\"max_min_certificate\": \"ok\"" <<<"$out"
else [[ $rc -eq 1 ]] && grep -Eq "no CUDA backend|no usable CUDA device|no CUDA device present" <<<"$out"; fi'
echo "$((6 - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
