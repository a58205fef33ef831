# One-command set-up: `make demo` and `make test` create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
DEMO_DIR ?= demo_output
PYTEST_ARGS ?=

.PHONY: demo test test-slow bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip

$(STAMP_DEMO): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	touch $@

$(STAMP_TEST): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VENV)/bin/dynvae demo --output_dir $(DEMO_DIR) --overwrite

test: $(STAMP_TEST)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP_TEST)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(PY) bench/render_dsprites.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build *.egg-info
