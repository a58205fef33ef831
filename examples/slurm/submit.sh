#!/bin/bash
# Submits a study as a Slurm job array (one task per model number, at most PARALLEL at once)
# and its aggregation as a job that runs when the array has ended.
#   ./submit.sh study/controlled_beta_study.gin /shared/study [PARALLEL]
set -euo pipefail
STUDY="${1:?usage: ./submit.sh <study gin> <shared output dir> [parallel tasks]}"
OUTPUT_DIR="${2:?usage: ./submit.sh <study gin> <shared output dir> [parallel tasks]}"
PARALLEL="${3:-50}"
HERE="$(cd "$(dirname "$0")" && pwd)"
COUNT="$(dynvae study --study "$STUDY" --output_dir "$OUTPUT_DIR" --count)"
ARRAY_JOB="$(sbatch --parsable --array="0-$((COUNT - 1))%$PARALLEL" "$HERE/study_array.sbatch" "$STUDY" "$OUTPUT_DIR")"
sbatch --dependency="afterany:$ARRAY_JOB" "$HERE/aggregate.sbatch" "$OUTPUT_DIR"
echo "study array job $ARRAY_JOB: $COUNT models; results in $OUTPUT_DIR/results.json when done"
