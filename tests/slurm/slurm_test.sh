#!/bin/bash
# The Slurm scripts (slurm/) submitted for real to a throw-away single-node Slurm (slurm/local-cluster.sh: munged,
# slurmctld, slurmd from Debian, started here and stopped at the end): run.sbatch writes its results; sweep.sbatch (an
# MPI job of 2 tasks under srun) and the job array with its merge (slurm/submit-array.sh) give the serial sweep's rows,
# byte for byte; the GPU script, which this cluster cannot run, passes `sbatch --test-only`. Label: slurm.
# Needs root (slurmd runs the jobs); elsewhere it says why and skips.
set -u
fails=0
total=0
check() { local what=$1; shift; total=$((total + 1)); if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi; }
if [[ $(id -u) -ne 0 ]]; then echo "skip - the local Slurm needs root"; exit 0; fi
for d in slurmctld slurmd munged sbatch srun; do
  command -v "$d" > /dev/null || { echo "FAIL - $d not installed (scripts/setup.sh installs slurm-wlm and munge)"; exit 1; }
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COLLEMU=$(readlink -f "${COLLEMU:?the collemu binary under test}")
work=$(mktemp -d)
chmod 755 "$work"  # munged needs its socket directory and every one above it searchable by all
export COLLEMU_SLURM_LOCAL=$work/cluster COLLEMU_SLURM_DIR=$here/slurm COLLEMU
COLLEMU_SLURMCTLD_PORT=$((20000 + RANDOM % 20000))
export COLLEMU_SLURMCTLD_PORT COLLEMU_SLURMD_PORT=$((COLLEMU_SLURMCTLD_PORT + 1))
cluster=$here/slurm/local-cluster.sh
trap 'bash "$cluster" stop; rm -rf "$work"' EXIT
bash "$cluster" start || { echo "FAIL - the local Slurm did not start"; tail -n 20 "$work"/cluster/log/*.log; exit 1; }
export SLURM_CONF=$COLLEMU_SLURM_LOCAL/etc/slurm.conf
cd "$work"

"$COLLEMU" trace gen llm -o t128.h5 --gpus 128 --tp 8 --pp 1 --dp 16 --layers 2 --hidden 2048 --ffn 8192 --heads 16 \
  --kv-heads 8 --vocab 32000 --seq 2048 --microbatches 2 --dp-mode allreduce > /dev/null
export COLLEMU_ARGS="--trace $work/t128.h5 --set scaleup.gpus=8 --set building.gpus=64 --placement spread"
export SWEEP_PARAMS="--param bag.oversubscription=1:1,2:1,4.5:1,7:1 --param fabric.kind=dsf,nsf,mixed"
read -r -a scenario <<< "$COLLEMU_ARGS"
read -r -a grid <<< "$SWEEP_PARAMS"
"$COLLEMU" sweep "${scenario[@]}" "${grid[@]}" --out serial.h5 > /dev/null

id=$(OUT=$work/run.h5 sbatch --parsable "$here/slurm/run.sbatch")
check "run.sbatch completes" bash "$cluster" wait "$id"
check "run.sbatch writes results.h5 and the JSON summary" bash -c 'test -s "$0" && grep -q step_time_s "$1"' run.h5 "collemu-run-$id.out"

id=$(OUT=$work/mpi.h5 sbatch --parsable -n 2 "$here/slurm/sweep.sbatch")
check "sweep.sbatch (srun, 2 MPI tasks) completes" bash "$cluster" wait "$id"
check "it ran over 2 MPI ranks" grep -q "over 2 MPI ranks" "collemu-sweep-$id.out"
check "its rows are the serial sweep's, byte for byte" cmp mpi.csv serial.csv

ids=$(OUT=$work/array.h5 bash "$here/slurm/submit-array.sh")
read -r array merge <<< "$ids"
check "the array's merge completes after the array" bash "$cluster" wait "${merge:-none}"
check "one array task per point (12)" test "$(ls collemu-point-"$array"_*.out 2>/dev/null | wc -l)" -eq 12
check "the array's rows are the serial sweep's, byte for byte" cmp array.csv serial.csv

check "the GPU script passes sbatch --test-only" bash -c 'sbatch --test-only "$0" 2>&1 | grep -q "to start at"' "$here/slurm/gpu.sbatch"
echo "$((total - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
