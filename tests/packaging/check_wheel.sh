#!/usr/bin/env bash
# Builds the sdist and the wheel, installs the wheel with the [tf] extra into a fresh virtual
# environment, and runs the pipeline from a directory outside the checkout, as a user of the
# published package would. A file missing from the wheel (a gin config, ...) fails here.
# Usage: tests/packaging/check_wheel.sh [python]   (default python3; needs `build`, e.g. from .[test])
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m build --sdist --wheel --outdir "$work/dist" "$repo" > "$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
sdist=$(ls "$work"/dist/*.tar.gz)
"$python" -m zipfile -l "$wheel" > "$work/wheel.txt"
tar tzf "$sdist" > "$work/sdist.txt"
for member in dynvae_keras/gin_configs/model/beta_vae.gin dynvae_keras/gin_configs/model/shared.gin \
              dynvae_keras/gin_configs/metric/mig.gin dynvae_keras/gin_configs/postprocess/mean.gin \
              dynvae_keras/gin_configs/study/unsupervised_study_v1.gin; do
  grep -q "$member" "$work/wheel.txt" || { echo "wheel lacks $member"; exit 1; }
done
for member in tests/data/toy_identity.json tests/data/dlib_unsupervised_study_v1_sweep.csv.gz \
              dynvae_keras/gin_configs/model/vae.gin Makefile; do
  grep -q "$member" "$work/sdist.txt" || { echo "sdist lacks $member"; exit 1; }
done

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel[tf]"
cd "$work"   # outside the checkout: only the installed package can be found
export TF_CPP_MIN_LOG_LEVEL=2
dynvae="$work/venv/bin/dynvae"
"$dynvae" configs > configs.txt
grep -qx "model/beta_vae.gin" configs.txt
"$dynvae" train --model_dir run/model --gin_config model/beta_vae.gin \
  --gin_bindings "model.training_steps = 6" --gin_bindings "model.eval_steps = 2" \
  --gin_bindings "model.batch_size = 16" --gin_bindings "model.log_every = 3"
"$dynvae" postprocess --model_dir run/model --output_dir run/post --gin_config postprocess/mean.gin
"$dynvae" evaluate --input_dir run/post --output_dir run/mig --gin_config metric/mig.gin \
  --gin_bindings "mig.num_train = 200"
test -f run/mig/results/aggregate/evaluation.json
"$dynvae" demo --steps 20 --output_dir run/demo
echo "wheel check passed: $(basename "$wheel")"
