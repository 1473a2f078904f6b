#!/bin/bash
# End-to-end checks of `collemu topo`: exit codes, the measured ratios in text and JSON, and the errors a user
# sees for bad input. $COLLEMU is the binary under test.
source "$(dirname "${BASH_SOURCE[0]}")/check.sh"
# expect_error EXPECTED-SUBSTRING ARGS...: exit code 2 and the substring on stderr.
expect_error() {
  local want=$1; shift
  "$COLLEMU" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne 2 ]] || ! grep -qF -- "$want" "$tmp/err"; then
    echo "    rc=$rc stderr: $(cat "$tmp/err")"
    return 1
  fi
}

check "default scenario runs" "$COLLEMU" topo
check "4.5:1 reads 4.50:1" bash -c '"$COLLEMU" topo prometheus | grep -q "BAG oversubscription (L2->BAG): 4.50:1"'
check "--set 7:1 reads 7.00:1" \
  bash -c '"$COLLEMU" topo prometheus --set bag.oversubscription=7:1 | grep -q "(L2->BAG): 7.00:1"'
# Every point of the README's sweep builds (a 1:1 DSF BAG once failed a port count its wiring model does not keep).
for kind in dsf nsf mixed; do
  check "the README sweep's 1:1 $kind fabric builds" "$COLLEMU" topo --set bag.oversubscription=1:1 --set fabric.kind=$kind
done

"$COLLEMU" topo prometheus --json >"$tmp/p.json"
check "json has the documented fields and measured ratios" python3 - "$tmp/p.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("gpus", "switches", "links", "tiers", "bag_oversubscription"):
    assert k in j, k
assert j["gpus"] == 32768
assert abs(j["bag_oversubscription"] - 4.5) < 1e-9
t = {x["name"]: x for x in j["tiers"]}
assert abs(t["bag"]["oversubscription"] - 4.5) < 1e-9
assert abs(t["access"]["capacity_Bps"] - 32768 * 100e9) < 1
assert all({"name", "capacity_Bps", "oversubscription"} <= set(x) for x in j["tiers"])
PY

"$COLLEMU" topo llama3-24k --json >"$tmp/l.json"
check "llama3-24k: 7:1 above the pods" python3 -c '
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tiers"]}
assert abs(t["l2-l3"]["oversubscription"] - 7) < 1e-9' "$tmp/l.json"

cat >"$tmp/f.yaml" <<'YAML'
preset: fat-tree
fat_tree:
  k: 4
nic:
  speed: 100Gbps
YAML
check "YAML file" bash -c '"$COLLEMU" topo "$0" --json | python3 -c "import json,sys; assert json.load(sys.stdin)[\"gpus\"] == 16"' "$tmp/f.yaml"
check "a failure shows in the measured capacity" bash -c \
  '"$COLLEMU" topo fat-tree --set fat_tree.k=4 --fail r0.b0.p0.ss0 --json | python3 -c "import json,sys; j=json.load(sys.stdin); assert j[\"failed_links\"] == 8, j[\"failed_links\"]"'

printf 'nic:\n  speed: 400\n' >"$tmp/bad.yaml"
check "unit-less number in a file names file:line" expect_error "$tmp/bad.yaml:2: key 'nic.speed'" topo "$tmp/bad.yaml"
check "unknown key" expect_error "unknown key 'bag.ratio'" topo --set bag.ratio=4:1
check "ratio below 1:1" expect_error "below 1:1" topo --set bag.oversubscription=1:2
check "zero capacity" expect_error "greater than zero" topo --set nic.speed=0Gbps
check "unknown preset" expect_error "neither a preset" topo dragonfly
check "disconnected fabric" expect_error "disconnected" topo --set bag.enabled=false
check "more GPUs than ports" expect_error "more GPUs than ports" topo --set fabric.kind=dsf --set building.gpus=40000
check "unknown failure target" expect_error "no such node" topo --fail r0.b9.p0.fe0
"$COLLEMU" topo prometheus --route 0:1000 --route r0.b0.gpu0:r0.b1.gpu5:3 --json >"$tmp/r.json"
check "--route prints path sets whose shares sum to 1 per hop" python3 - "$tmp/r.json" <<'PY'
import json, sys, collections
routes = json.load(open(sys.argv[1]))["routes"]
assert len(routes) == 2
# Same DSF building, different leaves: 4 planes x 16 fabric elements (docs/fabric-model.md).
assert routes[0]["paths"] == 64, routes[0]["paths"]
assert routes[1]["dst"] == "r0.b1.gpu5" and routes[1]["qp"] == 3
for r in routes:
    hops = collections.defaultdict(float)
    for l in r["links"]:
        hops[l["hop"]] += l["share"]
    assert all(abs(v - 1) < 1e-12 for v in hops.values()), hops
PY
check "--route to a GPU that does not exist" expect_error "does not exist" topo --route 0:99999999
check "--route malformed" expect_error "SRC:DST" topo --route 0
check "--help explains options" bash -c '"$COLLEMU" topo --help | grep -q -- "--set"'
check "--list-keys lists the BAG ratio" bash -c '"$COLLEMU" topo --list-keys | grep -q "^bag.oversubscription"'
check "--list-keys shows each key's unit and its value in this config" bash -c '"$COLLEMU" topo llama3-24k --list-keys --set nic.speed=200Gbps | grep -qE "^building.gpus +count +24576 " && "$COLLEMU" topo llama3-24k --list-keys --set nic.speed=200Gbps | grep -qE "^nic.speed +bandwidth \(bps, B/s\) +200Gbps "'
# --show-config writes what the preset, a file and --set made as YAML that topo reads back to the same fabric.
printf 'preset: llama3-24k\nnsf: {spine_oversubscription: 3:1}\n' > "$tmp/base.yaml"
"$COLLEMU" topo "$tmp/base.yaml" --set nic.speed=200Gbps --set gpu.type=b200 --show-config > "$tmp/shown.yaml"
check "--show-config reads back to the same fabric" bash -c 'diff <("$COLLEMU" topo "$0" --json) <("$COLLEMU" topo "$1" --set nic.speed=200Gbps --set gpu.type=b200 --json)' "$tmp/shown.yaml" "$tmp/base.yaml"
check "--show-config says where each value came from" bash -c 'grep -q "^nsf.spine_oversubscription: \"3:1\"  # .*base.yaml:2" "$0" && grep -q "^scaleup.bandwidth: \"900GB/s\"  # --set gpu.type=b200 (gpu.type b200)" "$0" && grep -q "^preset: llama3-24k" "$0"' "$tmp/shown.yaml"
check "--show-config refuses an impossible fabric" expect_error "building.gpus" topo --set building.gpus=12 --show-config

# A config is one YAML document with every key once (yaml-cpp would take the last of two, and ignore a second
# document); a directory is not a config file.
printf 'preset: prometheus\nbag:\n  oversubscription: 7:1\n  oversubscription: 2:1\n' > "$tmp/dup.yaml"
check "a key given twice names both lines" expect_error "dup.yaml:4: key 'bag.oversubscription' is given twice (first at line 3)" topo "$tmp/dup.yaml"
printf 'preset: prometheus\n---\nbag: {oversubscription: 7:1}\n' > "$tmp/multi.yaml"
check "a second YAML document is refused" expect_error "multi.yaml:2: a second YAML document" topo "$tmp/multi.yaml"
mkdir -p "$tmp/confdir"
check "a directory is not a config file" expect_error "confdir: is a directory; expected a fabric config file" topo "$tmp/confdir"
finish
