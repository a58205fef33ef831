# One-command set-up: `make demo` and `make test` create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
DEMO_DIR ?= demo_output
STUDY_DIR ?= runs/controlled_beta_cpu
# Two pytest workers, one test file each at a time (module fixtures are built once): on a 2-core
# CI machine the suite's subprocesses, imports and compilations overlap with the other worker's
# training. `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?= --durations=20 -n $(PYTEST_WORKERS) --dist loadfile

# torch 2.13.0's CPU build (192 MB): exact, so that pip never picks a newer CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test test-slow test-torch check-wheel bench reproduce-cpu clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP_DEMO): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[tf]'
	touch $@

# The suite runs every backend: TensorFlow, JAX (CPU) and PyTorch (CPU).
$(STAMP_TEST): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[tf,test]' '$(TORCH)'
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VENV)/bin/dynvae demo --output_dir $(DEMO_DIR) --overwrite

test: $(STAMP_TEST)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP_TEST)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

# Only the PyTorch-backend tests (train, save, reload under TensorFlow).
test-torch: $(STAMP_TEST)
	$(PY) -m pytest tests/test_backends.py -k torch $(PYTEST_ARGS)

# Build the sdist and wheel, install the wheel in a fresh venv, run the pipeline outside the checkout.
check-wheel: $(STAMP_TEST)
	bash tests/packaging/check_wheel.sh $(PY)

# docs/REPRODUCTION.md: the CPU-budget controlled-β study (27 models) and its report.
reproduce-cpu: $(STAMP_DEMO)
	$(VENV)/bin/dynvae study --study study/controlled_beta_study.gin --output_dir $(STUDY_DIR) --workers 2
	$(VENV)/bin/dynvae report --study study/controlled_beta_study.gin --study_dir $(STUDY_DIR) --output_dir $(STUDY_DIR)/report --overwrite

bench: $(STAMP_TEST)
	$(PY) bench/render_dsprites.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build *.egg-info
