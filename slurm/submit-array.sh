#!/bin/bash
# Submits a sweep as a Slurm job array, one task per point (array.sbatch), and the merge (merge.sbatch) with
# --dependency=afterok on the whole array. Prints the two job ids. Run from the directory the jobs should start in
# (the repository, or wherever slurm/ and the inputs are). Variables: as slurm/common.sh (OUT required); extra
# sbatch options for both jobs in SBATCH_ARGS (e.g. "--partition=cpu --time=01:00:00").
#   COLLEMU_ARGS="--trace step.h5" SWEEP_PARAMS="--param fabric.kind=dsf,nsf,mixed" OUT=sweep.h5 slurm/submit-array.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export COLLEMU_SLURM_DIR=$here
SLURM_SUBMIT_DIR=$(pwd) source "$here/common.sh"
: "${OUT:?set OUT, the .h5 file of the sweep}"
read -r -a extra <<< "${SBATCH_ARGS:-}"
n=$("$COLLEMU" sweep "${scenario[@]}" "${grid[@]}" --out "$OUT" --count)
array=$(sbatch --parsable "${extra[@]}" --array=0-$((n - 1)) "$here/array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable "${extra[@]}" --dependency=afterok:"$array" "$here/merge.sbatch")
echo "${array} ${merge%%;*}"
