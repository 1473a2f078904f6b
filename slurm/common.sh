# Sourced by the collemu sbatch scripts: the variables every script reads, with their defaults.
#   COLLEMU_SLURM_DIR  where these scripts are (default: slurm/ under the submit directory)
#   COLLEMU        the collemu binary (default: collemu on PATH, else build/collemu under the submit directory)
#   COLLEMU_ARGS   the scenario, as `collemu run` takes it (e.g. "--trace step.h5 --topo prometheus --placement spread");
#                  split on blanks (paths with spaces are not supported)
#   SWEEP_PARAMS   the sweep's grid, as `collemu sweep` takes it (e.g. "--param bag.oversubscription=1:1,7:1 --seeds 4")
#   OUT            the result file (run: results.h5; sweeps: sweep.h5, with OUT.parts/ and OUT's .csv beside it)
set -euo pipefail
if [[ -z ${COLLEMU:-} ]]; then
  if command -v collemu > /dev/null; then COLLEMU=collemu; else COLLEMU=${SLURM_SUBMIT_DIR:-.}/build/collemu; fi
fi
read -r -a scenario <<< "${COLLEMU_ARGS:-}"
read -r -a grid <<< "${SWEEP_PARAMS:-}"
